//! `bootstrap`: the Lambda entry point for every function (see the library docs).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tandem_lambda::entry::run().await
}
