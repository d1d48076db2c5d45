//! Guards for paginated AWS reads: every loop over pages ends, with a typed error when the
//! service answers a page token it already gave (the loop would never end) or when it does
//! not end within [`MAX_PAGES`] pages.

use std::collections::HashSet;

use crate::error::AwsError;

/// The most pages any listing reads (at the services' smallest page sizes, far more than
/// a stack has resources).
pub const MAX_PAGES: usize = 1000;

/// The error code of a repeated page token.
pub const REPEATED_PAGE_TOKEN: &str = "RepeatedPageToken";
/// The error code of a listing that did not end within [`MAX_PAGES`] pages.
pub const TOO_MANY_PAGES: &str = "TooManyPages";

/// The page tokens of one listing: `operation` (e.g. `ListCertificates`) of `what` (the
/// resource or region listed), both named in its errors.
#[derive(Debug)]
pub struct PageTokens {
    operation: &'static str,
    what: String,
    seen: HashSet<String>,
    pages: usize,
}

impl PageTokens {
    pub fn new(operation: &'static str, what: impl Into<String>) -> Self {
        Self { operation, what: what.into(), seen: HashSet::new(), pages: 0 }
    }

    /// The token of the next request, from the page just read: `Ok(None)` when the listing
    /// is complete (no token, or an empty one); an error for a token already given or past
    /// [`MAX_PAGES`] pages.
    pub fn next(&mut self, token: Option<&str>) -> Result<Option<String>, AwsError> {
        self.pages += 1;
        let Some(t) = token.filter(|t| !t.is_empty()) else { return Ok(None) };
        if !self.seen.insert(t.to_string()) {
            return Err(AwsError::other(
                REPEATED_PAGE_TOKEN,
                format!("{} of {} answered the same page token twice (after {} pages); stopped rather than loop", self.operation, self.what, self.pages),
            ));
        }
        if self.pages >= MAX_PAGES {
            return Err(AwsError::other(TOO_MANY_PAGES, format!("{} of {} did not end within {MAX_PAGES} pages", self.operation, self.what)));
        }
        Ok(Some(t.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_ends_at_its_last_page_and_a_repeated_token_is_an_error() {
        let mut p = PageTokens::new("ListThings", "us-east-1");
        assert_eq!(p.next(Some("a")).unwrap().as_deref(), Some("a"));
        assert_eq!(p.next(Some("b")).unwrap().as_deref(), Some("b"));
        assert_eq!(p.next(Some("")).unwrap(), None);
        let mut p = PageTokens::new("ListThings", "us-east-1");
        p.next(Some("a")).unwrap();
        p.next(Some("b")).unwrap();
        // Not only the one just given: any token already seen (a cycle a, b, a).
        let e = p.next(Some("a")).unwrap_err();
        assert_eq!(e.code, REPEATED_PAGE_TOKEN);
        assert!(e.message.contains("ListThings of us-east-1"), "{e}");
        let mut p = PageTokens::new("ListThings", "x");
        let e = (0..MAX_PAGES).map(|i| p.next(Some(&i.to_string()))).find_map(Result::err).unwrap();
        assert_eq!(e.code, TOO_MANY_PAGES);
    }
}
