//! The participant function, answering with `x-newsfeed-variant: tagged`.

use newsfeed_guest::{Request, Response};

#[spin_sdk::http_component]
fn entry(req: Request) -> Response {
    let mut response = participant::handle(&req, &newsfeed_guest::Wit);
    response.set_header("x-newsfeed-variant", "tagged");
    response
}
