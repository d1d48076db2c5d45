//! tandem-clients: one client trait per AWS service, shared by every crate that calls it.
//!
//! - [`lambda::LambdaApi`]: functions (compute), and the resource-policy permissions that
//!   let EventBridge (compute, data), API Gateway (traffic) and Elastic Load Balancing
//!   (network) invoke a function.
//! - [`events::EventsApi`]: buses, rules and targets (any bus; the default one is
//!   [`events::DEFAULT_BUS`]) and global endpoints.
//!
//! Each trait is implemented for the real aws-sdk client (errors converted with
//! [`tandem_core::AwsError::from_sdk`]; reads answer `Ok(None)` / empty when the resource
//! does not exist) and mocked with `MockLambdaApi` / `MockEventsApi` (feature `mocks`).

pub mod events;
pub mod lambda;

pub use events::EventsApi;
pub use lambda::LambdaApi;

#[cfg(any(test, feature = "mocks"))]
pub use events::MockEventsApi;
#[cfg(any(test, feature = "mocks"))]
pub use lambda::MockLambdaApi;

use tandem_core::AwsError;

/// Most pages a paginated read follows before giving up (every loop is bounded).
pub const MAX_PAGES: usize = 100;

/// A request that the SDK refused to build (a required field missing).
pub(crate) fn build_err(e: impl std::fmt::Display) -> AwsError {
    AwsError::other("InvalidRequest", format!("building the request: {e}"))
}

/// The error of a paginated read that did not end within [`MAX_PAGES`] pages.
pub(crate) fn too_many_pages(operation: &str, what: &str) -> AwsError {
    AwsError::other("TooManyPages", format!("{operation} of {what} did not end within {MAX_PAGES} pages"))
}

#[cfg(test)]
pub(crate) mod test_http;
