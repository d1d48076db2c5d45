//! Resource names and tags. Every name is `{type}[-{role}]-{suffix}`; every taggable
//! resource carries `tandem:stack=<suffix>` and `Name`.

use crate::component::Placement;

/// The tag key that marks a resource as belonging to a stack.
pub const STACK_TAG: &str = "tandem:stack";

/// `{kind}-{suffix}` or `{kind}-{role}-{suffix}`.
pub fn name(kind: &str, placement: Placement, suffix: &str) -> String {
    match placement.role() {
        Some(role) => format!("{kind}-{role}-{suffix}"),
        None => format!("{kind}-{suffix}"),
    }
}

/// An S3 bucket's name, `bucket-{role}-{suffix}-{account}`: bucket names are global across
/// every account, so the account id keeps the stack's names its own (AWS-NOTES: a name taken
/// elsewhere fails the create, and one owned elsewhere must never be adopted).
pub fn bucket(placement: Placement, suffix: &str, account: &str) -> String {
    format!("{}-{account}", name("bucket", placement, suffix))
}

/// The standard tags of a resource: `tandem:stack` and `Name`.
pub fn tags(suffix: &str, name: &str) -> Vec<(String, String)> {
    vec![(STACK_TAG.to_string(), suffix.to_string()), ("Name".to_string(), name.to_string())]
}

/// The SSM parameter path of a stack: `/tandem/<suffix>/`.
pub fn parameter_path(suffix: &str) -> String {
    format!("/tandem/{suffix}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_spec() {
        assert_eq!(name("vpc", Placement::Primary, "dev"), "vpc-primary-dev");
        assert_eq!(name("accelerator", Placement::Global, "dev"), "accelerator-dev");
        assert_eq!(tags("dev", "vpc-primary-dev")[0], ("tandem:stack".to_string(), "dev".to_string()));
    }
}
