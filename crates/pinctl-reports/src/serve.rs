//! `pinctl reports serve`: the HTTP/1.1 collector. It takes POSTs on any
//! path, answers 2xx only once the report is committed to the store, and
//! faces the open internet: bounded bodies, header and body timeouts,
//! bounded connections, per-address rate limits, and a 4xx with a log
//! line for anything that is not a report. Reports are classified on
//! arrival against the state, which is read again when a site file
//! changes.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{oneshot, Semaphore};

use crate::client::{client, Limiter};
use crate::store::{Incoming, Store};
use pinctl_core::error::{Error, Result};
use pinctl_core::report::{classify, dedup_key, parse, MAX_BODY, MAX_SAMPLE};
use pinctl_core::state::Site;

/// How the collector runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    pub database: crate::store::Location,
    /// Time to receive a request's headers.
    pub header_timeout: Duration,
    /// Time to receive a request's body.
    pub body_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Reports per second per source address, and the burst allowed.
    pub rate: f64,
    pub burst: f64,
    /// Proxies whose forwarding headers name the client
    /// (`--trusted-proxy`); empty: the headers are ignored.
    pub trusted_proxies: Vec<crate::client::Cidr>,
    /// A fixed arrival time (`PINCTL_NOW`), else the clock.
    pub now: Option<DateTime<Utc>>,
    /// Serve TLS directly with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Reads the state's sites, and says whether any site file changed.
pub trait Sites: Send + Sync + 'static {
    fn fingerprint(&self) -> Vec<(String, SystemTime, u64)>;
    fn load(&self) -> Result<Vec<Site>>;
}

type Job = (Incoming, oneshot::Sender<bool>);

struct Shared {
    sites: RwLock<Vec<Site>>,
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    /// Whether the store takes reports now (PostgreSQL may be away).
    store_up: Arc<AtomicBool>,
    limiter: Limiter,
    opts: Options,
}

/// The most clients the rate limiter remembers at once.
const LIMITER_ENTRIES: usize = 200_000;

fn answer(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn log(peer: IpAddr, status: StatusCode, why: &str) {
    let why: String = why.chars().filter(|c| !c.is_control()).take(200).collect();
    eprintln!("pinctl reports: {peer}: {} {why}", status.as_u16());
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    peer: IpAddr,
    shared: Arc<Shared>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let peer = client(peer, req.headers(), &shared.opts.trusted_proxies);
    if !shared.limiter.allow(peer, Instant::now()) {
        log(peer, StatusCode::TOO_MANY_REQUESTS, "rate limit");
        return Ok(answer(StatusCode::TOO_MANY_REQUESTS, "too many reports"));
    }
    if req.method() != Method::POST {
        let mut r = answer(StatusCode::METHOD_NOT_ALLOWED, "reports are POSTed");
        r.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("POST"),
        );
        return Ok(r);
    }
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        log(
            peer,
            StatusCode::PAYLOAD_TOO_LARGE,
            "declared body too large",
        );
        return Ok(answer(StatusCode::PAYLOAD_TOO_LARGE, "body too large"));
    }
    let body = Limited::new(req.into_body(), MAX_BODY);
    let bytes = match tokio::time::timeout(shared.opts.body_timeout, body.collect()).await {
        Err(_) => {
            log(peer, StatusCode::REQUEST_TIMEOUT, "body too slow");
            return Ok(answer(StatusCode::REQUEST_TIMEOUT, "body too slow"));
        }
        Ok(Err(e)) => {
            let too_large = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            let status = if too_large {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            log(peer, status, &e.to_string());
            return Ok(answer(status, "body unreadable"));
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    let report = match parse(&bytes) {
        Ok(r) => r,
        Err(why) => {
            log(peer, StatusCode::BAD_REQUEST, &why);
            return Ok(answer(
                StatusCode::BAD_REQUEST,
                &format!("not a report: {why}"),
            ));
        }
    };
    let (site, class) = {
        let sites = match shared.sites.read() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        classify(&report, &sites)
    };
    let key = dedup_key(site.as_deref(), class, &report);
    let mut sample = String::from_utf8_lossy(&bytes).into_owned();
    if sample.len() > MAX_SAMPLE {
        let mut cut = MAX_SAMPLE;
        while !sample.is_char_boundary(cut) {
            cut -= 1;
        }
        sample.truncate(cut);
    }
    let incoming = Incoming {
        key,
        site,
        class,
        report,
        at: shared.opts.now.unwrap_or_else(Utc::now),
        sample,
    };
    if !shared.store_up.load(Ordering::Acquire) {
        return Ok(unavailable(peer));
    }
    let (tx, rx) = oneshot::channel();
    let sent = shared.jobs.send((incoming, tx)).is_ok();
    // The writers bound each batch (crate::pg::QUERY_TIMEOUT); this is
    // the last guard that a request never waits for ever.
    let stored = matches!(tokio::time::timeout(ANSWER_TIMEOUT, rx).await, Ok(Ok(true)));
    if sent && stored {
        Ok(answer(StatusCode::NO_CONTENT, ""))
    } else {
        Ok(unavailable(peer))
    }
}

/// The longest a request waits for its report's commit.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// 503 with Retry-After: the report was not stored (docs/design.md#storage).
fn unavailable(peer: IpAddr) -> Response<Full<Bytes>> {
    log(
        peer,
        StatusCode::SERVICE_UNAVAILABLE,
        "the store did not take the report",
    );
    let mut r = answer(StatusCode::SERVICE_UNAVAILABLE, "not stored; send it again");
    r.headers_mut().insert(
        hyper::header::RETRY_AFTER,
        hyper::header::HeaderValue::from_static("5"),
    );
    r
}

/// The most reports one transaction takes.
const BATCH: usize = 4096;

/// Takes what has queued after `first`, up to [`BATCH`].
fn drain(first: Job, jobs: &mut tokio::sync::mpsc::UnboundedReceiver<Job>) -> Vec<Job> {
    let mut batch = vec![first];
    while batch.len() < BATCH {
        match jobs.try_recv() {
            Ok(j) => batch.push(j),
            Err(_) => break,
        }
    }
    batch
}

/// The SQLite writer: drains what has queued, stores it in one
/// transaction, and only then lets each request answer.
fn writer(mut store: Store, mut jobs: tokio::sync::mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = jobs.blocking_recv() {
        let batch = drain(first, &mut jobs);
        // Only in test builds (the `failpoints` feature): the writer dies
        // as a bug would make it.
        assert!(
            !pinctl_store::failpoint::writer_panics(),
            "failpoint: the report writer panics"
        );
        let items: Vec<Incoming> = batch.iter().map(|(i, _)| i.clone()).collect();
        let ok = match store.insert(&items) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("pinctl reports: {e}");
                false
            }
        };
        for (_, reply) in batch {
            let _ = reply.send(ok);
        }
    }
}

/// The PostgreSQL writer: as [`writer`], on the runtime; when the server
/// goes away it answers what is queued 503, marks the store down (the
/// handlers answer 503 with Retry-After at once), and reconnects with
/// backoff. A batch that fails on a serialization failure or a deadlock
/// is tried again. Nothing is acknowledged before its commit.
#[cfg(feature = "postgres")]
async fn pg_writer(
    pg: crate::pg::Pg,
    first: tokio_postgres::Client,
    mut jobs: tokio::sync::mpsc::UnboundedReceiver<Job>,
    up: Arc<AtomicBool>,
) {
    let mut client = Some(first);
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(c) = client.as_mut() else {
            // Down: refuse what queued, then try again.
            while let Ok((_, reply)) = jobs.try_recv() {
                let _ = reply.send(false);
            }
            match pg.open(true).await {
                Ok(c) => {
                    eprintln!("pinctl reports: connected again to {}", pg.label);
                    client = Some(c);
                    backoff = Duration::from_millis(100);
                    up.store(true, Ordering::Release);
                }
                Err(e) => eprintln!("pinctl reports: {e} (again in {backoff:?})"),
            }
            if client.is_none() {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            continue;
        };
        let Some(first) = jobs.recv().await else {
            return;
        };
        let batch = drain(first, &mut jobs);
        let items: Vec<Incoming> = batch.iter().map(|(i, _)| i.clone()).collect();
        let mut tries = 0;
        // Each try is bounded: a server that stops answering (not
        // closing) marks the store down and the connection is dropped and
        // made again, rather than wedge the writer.
        let result = loop {
            match tokio::time::timeout(crate::pg::QUERY_TIMEOUT, crate::pg::insert(c, &items)).await
            {
                Ok(Err(e)) if crate::pg::retryable(&e) && tries < 8 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(5 << tries)).await;
                }
                Ok(other) => break other.map_err(Some),
                Err(_) => break Err(None),
            }
        };
        let ok = match result {
            Ok(()) => true,
            Err(e) => {
                let lost = match e {
                    Some(e) => {
                        eprintln!("pinctl reports: {}", pg.err(e));
                        c.is_closed()
                    }
                    None => {
                        let e = pg.timed_out(crate::pg::QUERY_TIMEOUT, "insert");
                        eprintln!("pinctl reports: {e}; connecting again");
                        true
                    }
                };
                if lost {
                    up.store(false, Ordering::Release);
                    client = None;
                }
                false
            }
        };
        for (_, reply) in batch {
            let _ = reply.send(ok);
        }
    }
}

/// Serves HTTP/1.1 on one connection, plain or TLS.
async fn connection<I>(io: I, peer: SocketAddr, shared: Arc<Shared>, header_timeout: Duration)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| handle(req, peer.ip(), shared.clone()));
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(16 << 10)
        .serve_connection(TokioIo::new(io), svc)
        .await;
}

/// The private key of a PEM block, borrowed: the DER rustls reads is the
/// block's own buffer, which is wiped when the block is dropped (a
/// `PrivateKeyDer` that owns a copy is never wiped).
fn key_der(b: &pinctl_core::pem_scan::Block) -> Option<rustls::pki_types::PrivateKeyDer<'_>> {
    use rustls::pki_types::{
        PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
    };
    let der = &b.der[..];
    match b.label.as_str() {
        "PRIVATE KEY" => Some(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der))),
        "EC PRIVATE KEY" => Some(PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der))),
        "RSA PRIVATE KEY" => Some(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der))),
        _ => None,
    }
}

/// A TLS configuration from a PEM certificate chain (leaf first) and a
/// PEM private key (PKCS#8, SEC1 or PKCS#1). The file's bytes and the
/// decoded DER are wiped once ring has parsed the key; ring's own parsed
/// key lives, unwiped, as long as the collector (docs/security.md).
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::CertificateDer;
    let label = |p: &std::path::Path| p.display().to_string();
    let data = pinctl_store::fsutil::read_input(cert)?;
    let chain: Vec<CertificateDer<'static>> = pinctl_core::pem_scan::blocks(&data)
        .map_err(|e| Error::input(label(cert), e))?
        .into_iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.der.clone()))
        .collect();
    if chain.is_empty() {
        return Err(Error::input(label(cert), "no PEM certificate in the file"));
    }
    let data = pinctl_store::fsutil::read_input(key)?;
    let blocks = pinctl_core::pem_scan::blocks(&data).map_err(|e| Error::input(label(key), e))?;
    let der = blocks
        .iter()
        .find_map(key_der)
        .ok_or_else(|| Error::input(label(key), "no unencrypted PEM private key in the file"))?;
    // By reference: `with_single_cert` takes an owned key and drops it
    // unwiped.
    let signing = rustls::crypto::ring::sign::any_supported_type(&der)
        .map_err(|e| Error::input(label(key), format!("not a usable TLS key: {e}")))?;
    let certified = rustls::sign::CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(e) => {
            return Err(Error::input(
                label(key),
                format!("does not go with {}: {e}", label(cert)),
            ))
        }
    }
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Internal(format!("TLS: {e}")))?
    .with_no_client_auth()
    .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    Ok(Arc::new(config))
}

/// Runs the collector until the process is stopped.
pub fn serve(opts: Options, sites: impl Sites) -> Result<()> {
    let initial = sites.load()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the runtime: {e}")))?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let store_up = Arc::new(AtomicBool::new(true));
    // Ends (or drops its sender, on a panic) when the writer stops: the
    // collector then exits non-zero, so that the service manager
    // restarts it rather than answer 503 for ever.
    let (done_tx, mut writer_done) = oneshot::channel::<()>();
    match &opts.database {
        #[cfg(feature = "postgres")]
        crate::store::Location::Postgres(url) => {
            let pg = crate::pg::Pg::parse(url, &opts.database.label())?;
            let first = rt.block_on(pg.open(true))?;
            let up = store_up.clone();
            rt.spawn(async move {
                let _done = done_tx;
                pg_writer(pg, first, rx, up).await;
            });
        }
        _ => {
            let store = Store::open_at(&opts.database)?;
            std::thread::spawn(move || {
                let _done = done_tx;
                writer(store, rx);
            });
        }
    }
    let shared = Arc::new(Shared {
        sites: RwLock::new(initial),
        jobs: tx,
        store_up,
        limiter: Limiter::new(opts.rate, opts.burst, LIMITER_ENTRIES),
        opts: opts.clone(),
    });
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", opts.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Internal(format!("no local address: {e}")))?;
        eprintln!(
            "pinctl reports: listening on {addr}, storing in {}",
            opts.database.label()
        );
        let sites = Arc::new(sites);
        {
            // Reclassify against the state as it changes.
            let shared = shared.clone();
            let sites = sites.clone();
            tokio::spawn(async move {
                let mut seen = sites.fingerprint();
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let now = sites.fingerprint();
                    if now == seen {
                        continue;
                    }
                    let s2 = sites.clone();
                    match tokio::task::spawn_blocking(move || s2.load()).await {
                        Ok(Ok(v)) => {
                            if let Ok(mut w) = shared.sites.write() {
                                *w = v;
                            }
                            eprintln!("pinctl reports: the state changed; classifying against it");
                            seen = now;
                        }
                        Ok(Err(e)) => eprintln!("pinctl reports: keeping the previous state: {e}"),
                        Err(e) => eprintln!("pinctl reports: keeping the previous state: {e}"),
                    }
                }
            });
        }
        let permits = Arc::new(Semaphore::new(opts.max_connections.max(1)));
        let stopped = || {
            Error::Internal(
                "the report writer stopped; exiting so that the service manager restarts the collector"
                    .into(),
            )
        };
        loop {
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => p,
                _ = &mut writer_done => return Err(stopped()),
            };
            let Ok(permit) = permit else {
                break;
            };
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = &mut writer_done => return Err(stopped()),
            };
            let (stream, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("pinctl reports: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let shared = shared.clone();
            let header_timeout = opts.header_timeout;
            let tls = opts.tls.clone().map(tokio_rustls::TlsAcceptor::from);
            tokio::spawn(async move {
                let _permit = permit;
                // No connection outlives two minutes, however it behaves.
                let life = Duration::from_secs(120);
                match tls {
                    None => {
                        let _ = tokio::time::timeout(
                            life,
                            connection(stream, peer, shared, header_timeout),
                        )
                        .await;
                    }
                    Some(acceptor) => {
                        // The handshake gets the time a request's headers get.
                        match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                            Ok(Ok(s)) => {
                                let _ = tokio::time::timeout(
                                    life,
                                    connection(s, peer, shared, header_timeout),
                                )
                                .await;
                            }
                            Ok(Err(e)) => {
                                log(peer.ip(), StatusCode::BAD_REQUEST, &format!("TLS: {e}"))
                            }
                            Err(_) => log(
                                peer.ip(),
                                StatusCode::REQUEST_TIMEOUT,
                                "TLS handshake too slow",
                            ),
                        }
                    }
                }
            });
        }
        Ok::<(), Error>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key rustls read was a `PrivateKeyDer` copy that nothing wiped:
    /// it is now the PEM block's own buffer, wiped when the block drops.
    #[test]
    fn the_tls_key_is_read_from_the_wiped_pem_buffer_not_a_copy() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join("tests/fixtures")
            .join("p256.pkcs8.pem");
        let pem = std::fs::read(path).unwrap();
        let blocks = pinctl_core::pem_scan::blocks(&pem).unwrap();
        let b = &blocks[0];
        assert!(b.secret);
        let der = key_der(b).unwrap();
        assert_eq!(der.secret_der().as_ptr(), b.der.as_ptr());
        assert!(rustls::crypto::ring::sign::any_supported_type(&der).is_ok());
    }
}
