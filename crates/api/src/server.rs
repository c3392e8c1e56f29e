//! The HTTP server: hyper's, with a header-read timeout (`axum::serve` has
//! none: a client that never finishes its headers would hold a connection
//! and a task for ever) and a graceful shutdown that lets requests in flight
//! finish.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Pause after a failed `accept` (e.g. out of file descriptors) so that the
/// loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` completes, then waits for the
/// connections to finish their requests. A client has `header_read_timeout`
/// to send a request's headers, after which its connection is closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    // A response is written in more than one segment (head,
                    // then a large body): with Nagle's algorithm on, the
                    // second waits for the client's delayed ACK (~40 ms).
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(error = %e, "HTTP: TCP_NODELAY not set");
                    }
                    stream
                }
                Err(e) => {
                    tracing::warn!(error = %e, "HTTP: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(app.clone()))
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
