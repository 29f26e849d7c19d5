//! The loopback router moto's Step Functions interpreter talks to (`MOTO_PORT`).
//!
//! moto runs a Task state's Lambda call as `POST /2015-03-31/functions/<name>/invocations`
//! against `localhost:$MOTO_PORT`. The router sends those to `cargo lambda watch`, which runs
//! the real handler binaries, and everything else to moto itself. Two differences from real
//! Lambda are bridged here: cargo-lambda knows functions by their short name (an ARN gets 404),
//! and it answers a function error with HTTP 500 where Lambda answers 200 with
//! `X-Amz-Function-Error: Unhandled` — which is what makes Step Functions see the error name
//! (`Keycard.AccessDenied`, …) that the ASL's Retry/Catch match.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::http::{self, Message, Reply};

/// Counts of what went where, for tests and the run summary.
#[derive(Debug, Default)]
pub struct RouterStats {
    pub invocations: AtomicU64,
    pub function_errors: AtomicU64,
    pub to_moto: AtomicU64,
}

/// The function name of a Lambda invoke path, or `None` for any other request.
/// Accepts a name, a partial or full ARN (URL-encoded or not), with or without a qualifier.
pub fn invoked_function(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/2015-03-31/functions/")?;
    let name = rest.strip_suffix("/invocations")?;
    let name = name.replace("%3A", ":").replace("%3a", ":");
    // arn:aws:lambda:region:account:function:name[:qualifier], account:function:name, name[:q]
    let short = match name.split_once("function:") {
        Some((_, after)) => after,
        None => name.as_str(),
    };
    let short = short.split(':').next().unwrap_or_default();
    if short.is_empty() || short.contains('/') {
        return None;
    }
    Some(short.to_owned())
}

/// Answers one request: a Lambda invoke goes to `lambda`, anything else to `moto`.
pub fn route(req: Message, moto: SocketAddr, lambda: SocketAddr, stats: &RouterStats) -> Reply {
    if req.method == "POST"
        && let Some(function) = invoked_function(req.path())
    {
        stats.invocations.fetch_add(1, Ordering::Relaxed);
        let target = format!("/2015-03-31/functions/{function}/invocations");
        let headers: Vec<(String, String)> = req
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
            .cloned()
            .collect();
        // The first call of a function waits for cargo-lambda to build and start it.
        return match http::request(
            lambda,
            "POST",
            &target,
            &headers,
            &req.body,
            Duration::from_secs(600),
        ) {
            Ok(resp) => {
                let mut headers = passthrough_headers(&resp);
                let status = match resp.status() {
                    500 => {
                        stats.function_errors.fetch_add(1, Ordering::Relaxed);
                        headers.push(("X-Amz-Function-Error".into(), "Unhandled".into()));
                        200
                    }
                    s => s,
                };
                headers.push(("X-Amz-Executed-Version".into(), "$LATEST".into()));
                (status, headers, resp.body)
            }
            Err(e) => (
                502,
                vec![("Content-Type".into(), "text/plain".into())],
                format!("keycard-local router: cargo lambda watch did not answer: {e}")
                    .into_bytes(),
            ),
        };
    }
    stats.to_moto.fetch_add(1, Ordering::Relaxed);
    match http::request(
        moto,
        &req.method,
        &req.target,
        &req.headers,
        &req.body,
        Duration::from_secs(120),
    ) {
        Ok(resp) => (resp.status(), passthrough_headers(&resp), resp.body),
        Err(e) => (
            502,
            Vec::new(),
            format!("keycard-local router: moto did not answer: {e}").into_bytes(),
        ),
    }
}

fn passthrough_headers(resp: &Message) -> Vec<(String, String)> {
    resp.headers
        .iter()
        .filter(|(k, _)| {
            !k.eq_ignore_ascii_case("content-length")
                && !k.eq_ignore_ascii_case("connection")
                && !k.eq_ignore_ascii_case("transfer-encoding")
        })
        .cloned()
        .collect()
}

/// A running router.
#[derive(Debug)]
pub struct Router {
    pub addr: SocketAddr,
    pub stats: Arc<RouterStats>,
    stop: Arc<AtomicBool>,
}

impl Router {
    /// Serves on a free 127.0.0.1 port until dropped.
    pub fn start(moto: SocketAddr, lambda: SocketAddr) -> std::io::Result<Router> {
        let listener = http::bind_loopback()?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(RouterStats::default());
        let s = Arc::clone(&stats);
        http::serve(listener, Arc::clone(&stop), move |req| {
            route(req, moto, lambda, &s)
        })?;
        Ok(Router { addr, stats, stop })
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_from_invoke_paths() {
        for (path, want) in [
            (
                "/2015-03-31/functions/keycard-diff/invocations",
                Some("keycard-diff"),
            ),
            (
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Akeycard-diff/invocations",
                Some("keycard-diff"),
            ),
            (
                "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:keycard-diff:$LATEST/invocations",
                Some("keycard-diff"),
            ),
            ("/2015-03-31/functions/keycard-diff", None),
            ("/2015-03-31/functions//invocations", None),
            ("/bucket/key", None),
        ] {
            assert_eq!(invoked_function(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn function_errors_become_unhandled_and_the_rest_goes_to_moto() {
        let stop = Arc::new(AtomicBool::new(false));
        let lambda_l = http::bind_loopback().unwrap();
        let lambda = lambda_l.local_addr().unwrap();
        http::serve(lambda_l, Arc::clone(&stop), |m: Message| {
            if m.path().contains("/broken/") {
                (
                    500,
                    vec![],
                    br#"{"errorType":"Keycard.AccessDenied","errorMessage":"no"}"#.to_vec(),
                )
            } else {
                (200, vec![], m.body)
            }
        })
        .unwrap();
        let moto_l = http::bind_loopback().unwrap();
        let moto = moto_l.local_addr().unwrap();
        http::serve(moto_l, Arc::clone(&stop), |m: Message| {
            (200, vec![], format!("moto {}", m.target).into_bytes())
        })
        .unwrap();
        let router = Router::start(moto, lambda).unwrap();
        let t = Duration::from_secs(5);
        let ok = http::request(
            router.addr,
            "POST",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aok/invocations",
            &[],
            b"{\"a\":1}",
            t,
        )
        .unwrap();
        assert_eq!((ok.status(), ok.body.as_slice()), (200, &b"{\"a\":1}"[..]));
        assert!(ok.header("x-amz-function-error").is_none());
        let bad = http::request(
            router.addr,
            "POST",
            "/2015-03-31/functions/broken/invocations",
            &[],
            b"{}",
            t,
        )
        .unwrap();
        assert_eq!(bad.status(), 200);
        assert_eq!(bad.header("x-amz-function-error"), Some("Unhandled"));
        assert!(String::from_utf8_lossy(&bad.body).contains("Keycard.AccessDenied"));
        let other = http::request(router.addr, "GET", "/bucket?list-type=2", &[], b"", t).unwrap();
        assert_eq!(other.body, b"moto /bucket?list-type=2");
        assert_eq!(router.stats.invocations.load(Ordering::Relaxed), 2);
        assert_eq!(router.stats.function_errors.load(Ordering::Relaxed), 1);
        assert_eq!(router.stats.to_moto.load(Ordering::Relaxed), 1);
        stop.store(true, Ordering::Relaxed);
    }
}
