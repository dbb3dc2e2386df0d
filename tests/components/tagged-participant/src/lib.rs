//! The participant function, answering with `x-newsfeed-variant: tagged`.

// The participant's own source, compiled here as a module rather than used
// as a crate: a dependency's cdylib would be built too and copied over the
// real participant.wasm, and a target dir of its own to avoid that cost CI a
// second build of every wasm dependency. Its entry point is left out (it is
// behind the participant crate's `component` feature, which this crate
// lacks).
#[path = "../../../../functions/participant/src/lib.rs"]
mod participant;

use newsfeed_guest::{Request, Response};

// A version of the participant function, and so marked as one.
newsfeed_guest::implements!("participant");

#[spin_sdk::http_component]
fn entry(req: Request) -> Response {
    let mut response = participant::handle(&req, &newsfeed_guest::Wit);
    response.set_header("x-newsfeed-variant", "tagged");
    response
}
