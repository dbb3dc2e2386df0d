//! Accepting HTTP connections and serving each with a handler: the one
//! accept loop that the public server, the admin API and the metrics
//! endpoint share.

use crate::function::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves every connection from `listener` on its own task, each request
/// answered by `handle`, for as long as the process lives.
pub async fn serve_http<H, F>(listener: TcpListener, handle: H)
where
    H: Fn(http::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                // Running out of file descriptors must not end the server.
                tracing::warn!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let answer = handle(req);
                async move { Ok::<_, std::convert::Infallible>(answer.await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(error) = builder.serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!("connection ended: {error}");
            }
        });
    }
}
