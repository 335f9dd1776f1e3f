//! The HTTPS client under instant-acme: TLS to the directory verified
//! with the system's roots or the operator's `--ca-file`, a bound on
//! every request, and waits the CA asks for with `Retry-After` (RFC 8555
//! section 6.6, rate limits; RFC 9110 section 10.2.3).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::CertificateDer;

use crate::Error;

/// One request may take this long (connect, TLS, answer): an unreachable
/// or stalled CA fails the command instead of hanging the daily job.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest `Retry-After` pinctl waits out in one command; a CA that
/// asks for more gets an error naming the time (the next daily run
/// tries again).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// What the last refused request asked for, for the error message.
#[derive(Default, Clone)]
pub struct LastRetryAfter(pub Arc<Mutex<Option<SystemTime>>>);

impl LastRetryAfter {
    pub fn get(&self) -> Option<SystemTime> {
        self.0.lock().ok().and_then(|g| *g)
    }
    fn set(&self, t: Option<SystemTime>) {
        if let Ok(mut g) = self.0.lock() {
            *g = t;
        }
    }
}

/// The roots a directory's certificate must chain to: the PEM file given,
/// else the system's.
pub fn roots(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, Error> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let iter = CertificateDer::pem_file_iter(path).map_err(|e| {
                Error::usage(format!("{}: cannot read the CA file: {e}", path.display()))
            })?;
            for c in iter {
                let c = c.map_err(|e| {
                    Error::usage(format!(
                        "{}: not a PEM certificate file: {e}",
                        path.display()
                    ))
                })?;
                roots.add(c).map_err(|e| {
                    Error::usage(format!(
                        "{}: a certificate was refused: {e}",
                        path.display()
                    ))
                })?;
            }
            if roots.is_empty() {
                return Err(Error::usage(format!(
                    "{}: no certificate in the CA file",
                    path.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                // A system bundle may hold certificates rustls cannot
                // use; the others still verify.
                let _ = roots.add(c);
            }
            if roots.is_empty() {
                return Err(Error::usage(
                    "no system CA certificates found to verify the ACME directory; pass --ca-file",
                ));
            }
        }
    }
    Ok(roots)
}

type Inner = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>;

/// hyper's client as instant-acme wants it.
struct Hyper(Inner);

impl HttpClient for Hyper {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let fut = self.0.request(req);
        Box::pin(async move {
            fut.await
                .map(BytesResponse::from)
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))
        })
    }
}

/// The shortest wait before asking again a CA that said `Retry-After`.
const MIN_WAIT: Duration = Duration::from_secs(1);

/// Requests sent in all for one request the CA keeps refusing.
const MAX_TRIES: u32 = 10;

/// The HTTP client instant-acme talks through.
pub struct Client {
    inner: Arc<dyn HttpClient>,
    last_retry_after: LastRetryAfter,
    max_wait: Duration,
}

impl Client {
    pub fn new(ca_file: Option<&Path>, last: LastRetryAfter) -> Result<Client, Error> {
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::network(format!("TLS setup: {e}")))?
        .with_root_certificates(roots(ca_file)?)
        .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_only()
            .enable_http1()
            .build();
        let inner = Hyper(HyperClient::builder(TokioExecutor::new()).build(https));
        Ok(Client::wrap(Arc::new(inner), last, MAX_RETRY_AFTER))
    }

    /// Over any client (the tests give one that answers 429).
    pub fn wrap(inner: Arc<dyn HttpClient>, last: LastRetryAfter, max_wait: Duration) -> Client {
        Client {
            inner,
            last_retry_after: last,
            max_wait,
        }
    }
}

/// When a response asks the client to come back (`Retry-After`, seconds
/// or an HTTP date), on a 429 or 503.
pub fn retry_after(parts: &http::response::Parts, now: SystemTime) -> Option<SystemTime> {
    if !matches!(
        parts.status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        return None;
    }
    let v = parts
        .headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(now + Duration::from_secs(secs));
    }
    httpdate(v)
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110
/// requires senders to use.
fn httpdate(v: &str) -> Option<SystemTime> {
    let p: Vec<&str> = v.split_whitespace().collect();
    if p.len() != 6 || p[5] != "GMT" {
        return None;
    }
    let day: u64 = p[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == p[2])? as u64
        + 1;
    let year: i64 = p[3].parse().ok()?;
    let hms: Vec<u64> = p[4].split(':').filter_map(|x| x.parse().ok()).collect();
    if hms.len() != 3 || !(1..=31).contains(&day) || hms[0] > 23 || hms[1] > 59 || hms[2] > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = (y - era * 400) as u64;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe as i64 - 719_468;
    let secs = days * 86_400 + (hms[0] * 3600 + hms[1] * 60 + hms[2]) as i64;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

impl HttpClient for Client {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let inner = self.inner.clone();
        let last = self.last_retry_after.clone();
        let max_wait = self.max_wait;
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            // The body is kept to send again after a wait: a POST's nonce
            // is then stale, and instant-acme answers the CA's badNonce
            // with a fresh one (RFC 8555 section 6.5).
            let body = match body.collect().await {
                Ok(b) => b.to_bytes(),
                Err(never) => match never {},
            };
            let mut waited = Duration::ZERO;
            let mut tries = 0;
            loop {
                tries += 1;
                let mut r = Request::builder()
                    .method(parts.method.clone())
                    .uri(parts.uri.clone())
                    .version(parts.version);
                for (k, v) in &parts.headers {
                    r = r.header(k, v);
                }
                let req = r.body(BodyWrapper::from(body.to_vec()))?;
                let rsp = match tokio::time::timeout(REQUEST_TIMEOUT, inner.request(req)).await {
                    Ok(r) => r?,
                    Err(_) => {
                        return Err(instant_acme::Error::Other(
                            format!(
                                "{} did not answer within {} s",
                                parts.uri,
                                REQUEST_TIMEOUT.as_secs()
                            )
                            .into(),
                        ))
                    }
                };
                let now = SystemTime::now();
                let Some(when) = retry_after(&rsp.parts, now) else {
                    last.set(None);
                    return Ok(rsp);
                };
                // `Retry-After: 0` or a past date counts as MIN_WAIT, so
                // that max_wait and MAX_TRIES end the loop.
                let wait = when
                    .duration_since(now)
                    .unwrap_or(Duration::ZERO)
                    .max(MIN_WAIT);
                if tries >= MAX_TRIES || waited + wait > max_wait {
                    last.set(Some(now + wait));
                    return Ok(rsp);
                }
                tokio::time::sleep(wait).await;
                waited += wait;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let parts = |status: u16, v: &str| {
            let (p, ()) = http::Response::builder()
                .status(status)
                .header("Retry-After", v)
                .body(())
                .expect("a valid response") // static status and header
                .into_parts();
            p
        };
        assert_eq!(
            retry_after(&parts(429, "7"), now),
            Some(now + Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&parts(503, "Sun, 06 Nov 1994 08:49:37 GMT"), now),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        assert_eq!(retry_after(&parts(200, "7"), now), None);
        assert_eq!(retry_after(&parts(429, "soon"), now), None);
    }

    /// Answers 429 with `Retry-After: {retry_after}` `refusals` times,
    /// then 200.
    struct Busy {
        refusals: Mutex<u32>,
        seen: Mutex<u32>,
        retry_after: &'static str,
    }

    impl HttpClient for Busy {
        fn request(
            &self,
            _req: Request<BodyWrapper<Bytes>>,
        ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>>
        {
            *self.seen.lock().expect("not poisoned") += 1;
            let mut left = self.refusals.lock().expect("not poisoned");
            let status = if *left > 0 {
                *left -= 1;
                429
            } else {
                200
            };
            let rsp = http::Response::builder()
                .status(status)
                .header("Retry-After", self.retry_after)
                .body(http_body_util::Full::new(Bytes::from_static(b"{}")))
                .expect("a valid response"); // static status and header
            Box::pin(async move { Ok(BytesResponse::from(rsp)) })
        }
    }

    fn post() -> Request<BodyWrapper<Bytes>> {
        Request::post("https://ca.test/new-order")
            .body(BodyWrapper::from(b"{}".to_vec()))
            .expect("a valid request") // static method and URI
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn waits_out_a_short_retry_after() {
        let busy = Arc::new(Busy {
            refusals: Mutex::new(2),
            seen: Mutex::new(0),
            retry_after: "1",
        });
        let last = LastRetryAfter::default();
        let c = Client::wrap(busy.clone(), last.clone(), Duration::from_secs(10));
        let rsp = c.request(post()).await.expect("answered");
        assert_eq!(rsp.parts.status, 200);
        assert_eq!(*busy.seen.lock().expect("not poisoned"), 3);
        assert_eq!(last.get(), None);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn gives_up_on_a_long_retry_after_and_says_when() {
        let busy = Arc::new(Busy {
            refusals: Mutex::new(100),
            seen: Mutex::new(0),
            retry_after: "1",
        });
        let last = LastRetryAfter::default();
        let c = Client::wrap(busy.clone(), last.clone(), Duration::from_secs(3));
        let rsp = c.request(post()).await.expect("answered");
        assert_eq!(rsp.parts.status, 429);
        assert_eq!(*busy.seen.lock().expect("not poisoned"), 4);
        assert!(last.get().is_some());
    }

    /// Regression: `Retry-After: 0` (or a date in the past) made the
    /// wait zero, so max_wait never tripped and the request looped for
    /// ever.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_zero_or_past_retry_after_ends() {
        for v in ["0", "Sun, 06 Nov 1994 08:49:37 GMT"] {
            for max in [Duration::from_secs(3), Duration::from_secs(3600)] {
                let busy = Arc::new(Busy {
                    refusals: Mutex::new(u32::MAX),
                    seen: Mutex::new(0),
                    retry_after: v,
                });
                let last = LastRetryAfter::default();
                let c = Client::wrap(busy.clone(), last.clone(), max);
                let rsp = tokio::time::timeout(Duration::from_secs(86_400), c.request(post()))
                    .await
                    .expect("gave up in time");
                let rsp = rsp.expect("answered");
                assert_eq!(rsp.parts.status, 429);
                let seen = *busy.seen.lock().expect("not poisoned");
                // 1 s a try counts against max_wait: 3 s allow 4 requests.
                let want = if max.as_secs() == 3 { 4 } else { MAX_TRIES };
                assert_eq!(seen, want, "Retry-After: {v}, max {max:?}");
                assert!(last.get().is_some());
            }
        }
    }
}
