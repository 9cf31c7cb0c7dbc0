//! An HTTP/1 server on a loopback port for the in-tree fakes of real services, on a thread
//! and runtime of its own (the tests drive separate processes); dropping it stops it.

use std::convert::Infallible;
use std::future::Future;

use hyper::body::{Body, Incoming};
use hyper::{Request, Response};

pub struct Loopback {
    pub port: u16,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Serves every request with `handle(request, state.clone())`.
pub fn start<S, F, B>(state: S, handle: fn(Request<Incoming>, S) -> F) -> Loopback
where
    S: Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the fake server");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            port_tx
                .send(listener.local_addr().expect("addr").port())
                .expect("port");
            let serve = async {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    // As real servers answer: each write goes out as it is made, not held
                    // back by Nagle's algorithm until the client acknowledges the one
                    // before (up to 40 ms of delayed acknowledgement on Linux).
                    let _ = stream.set_nodelay(true);
                    let state = state.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            handle(request, state.clone())
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            };
            tokio::select! {
                () = serve => {}
                _ = stopped => {}
            }
        });
    });
    let port = port_rx.recv().expect("the fake server started");
    Loopback { port, _stop: stop }
}
