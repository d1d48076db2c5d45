//! `tandem-lambda`: the `bootstrap` binary under a name fit for `~/.cargo/bin`. An installed
//! `tandem` zips the `tandem-lambda` beside it as the functions' `bootstrap`
//! (`cargo install --path lambda --profile lambda --bin tandem-lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tandem_lambda::entry::run().await
}
