//! A loopback HTTP/1.1 proxy that injects faults between the `tandem` CLI and moto.
//!
//! Every request the CLI sends is read whole (head and body), then, by a seeded decision:
//! - [`Fault::Unavailable`]: answered `503 Service Unavailable` without reaching moto;
//! - [`Fault::Reset`]: the connection is reset (RST) without reaching moto;
//! - [`Fault::LostAnswer`]: forwarded to moto, moto's whole answer read (so moto *acted*),
//!   then the client connection is closed without a byte of it: the answer is lost;
//! - [`Fault::None`]: forwarded, and moto's answer relayed.
//!
//! Half of the faults happen before forwarding (split evenly between 503 and reset), half
//! after moto acted. Each request is forwarded on its own upstream connection with
//! `Connection: close`, and the client connection is closed after one exchange, so no
//! response framing needs parsing (moto's answer is read to end of stream).
//!
//! # Determinism
//! The decision for a request is a hash of the seed, the request's identity (signing
//! service, region, operation: `X-Amz-Target`, else the query `Action`, else the method and
//! the first path segment) and how many requests of that identity came before it in the
//! current phase ([`FaultProxy::phase`] resets the counters). The same seed therefore faults
//! the same calls of a run, whatever the timing of *other* operations; only concurrent calls
//! of the same operation can swap decisions between them.
//!
//! Every decision is logged (one line per request) to the file given to
//! [`FaultProxy::start`], so a failure can be traced to the faulted calls.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Longest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body or response accepted (the Lambda zip upload is the biggest).
const MAX_BODY: usize = 256 * 1024 * 1024;
/// Bound on reading a request from the client (between two of its requests too).
const CLIENT_READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound on connecting to moto.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on one exchange with moto (write the request, read the whole answer).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(300);

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    None,
    /// 503 before forwarding.
    Unavailable,
    /// Connection reset before forwarding.
    Reset,
    /// Forwarded, moto acted, answer dropped.
    LostAnswer,
}

/// Fault rate and seed.
#[derive(Debug, Clone, Copy)]
pub struct FaultPlan {
    pub seed: u64,
    /// Fraction of requests faulted, in `[0, 1]`.
    pub rate: f64,
}

impl FaultPlan {
    /// The fault for the `n`-th (0-based) request of `identity` in `phase`.
    pub fn decide(&self, phase: &str, identity: &str, n: u64) -> Fault {
        let h = mix(self.seed ^ fnv1a(phase.as_bytes()).rotate_left(17) ^ fnv1a(identity.as_bytes()) ^ mix(n.wrapping_add(0x9e37)));
        let u = unit(h);
        if u < self.rate / 4.0 {
            Fault::Unavailable
        } else if u < self.rate / 2.0 {
            Fault::Reset
        } else if u < self.rate {
            Fault::LostAnswer
        } else {
            Fault::None
        }
    }
}

/// splitmix64 finaliser: a well-mixed 64-bit hash of `x`.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// `h` mapped to `[0, 1)`.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Counts of what the proxy did, per fault kind.
#[derive(Debug, Default, Clone)]
pub struct FaultStats {
    pub requests: u64,
    pub unavailable: u64,
    pub reset: u64,
    pub lost_answers: u64,
    /// Requests that could not be relayed for reasons other than an injected fault
    /// (moto unreachable, client gone): a harness problem when non-zero.
    pub proxy_errors: u64,
    /// The operations whose answer was lost (`identity #n`), in order.
    pub lost: Vec<String>,
}

impl std::fmt::Display for FaultStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests: {} answered 503, {} reset, {} answers lost after moto acted, {} proxy errors",
            self.requests, self.unavailable, self.reset, self.lost_answers, self.proxy_errors
        )
    }
}

struct Shared {
    plan: FaultPlan,
    upstream: String,
    phase: String,
    counters: HashMap<String, u64>,
    stats: FaultStats,
    log: Option<std::fs::File>,
}

/// The running proxy (stopped on drop).
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`, the endpoint to give the CLI.
    pub endpoint: String,
    /// Where every decision is logged.
    pub log_path: PathBuf,
    shared: Arc<Mutex<Shared>>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, plan: FaultPlan, log_path: &Path) -> std::io::Result<FaultProxy> {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let log = std::fs::File::create(log_path)?;
        let shared = Arc::new(Mutex::new(Shared {
            plan,
            upstream,
            phase: String::new(),
            counters: HashMap::new(),
            stats: FaultStats::default(),
            log: Some(log),
        }));
        let task_shared = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Accept errors (e.g. too many open files) are transient: back off.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let shared = task_shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, shared.clone()).await {
                        let mut s = lock(&shared);
                        s.stats.proxy_errors += 1;
                        s.write_log(&format!("proxy error: {e}"));
                    }
                });
            }
        });
        Ok(FaultProxy { endpoint, log_path: log_path.to_path_buf(), shared, task })
    }

    /// Starts a new phase (`apply`, `destroy`...): per-operation counters restart, so each
    /// phase's decisions depend only on the seed and its own calls.
    pub fn phase(&self, name: &str) {
        let mut s = lock(&self.shared);
        s.phase = name.to_string();
        s.counters.clear();
        s.write_log(&format!("--- phase {name}"));
    }

    /// Changes the fault rate (0 turns injection off).
    pub fn set_rate(&self, rate: f64) {
        lock(&self.shared).plan.rate = rate;
    }

    /// What the proxy did so far (and resets the counts).
    pub fn take_stats(&self) -> FaultStats {
        std::mem::take(&mut lock(&self.shared).stats)
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn write_log(&mut self, line: &str) {
        if let Some(f) = self.log.as_mut() {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// A request read from the client.
struct Request {
    head: Vec<u8>,
    body: Vec<u8>,
    expects_continue: bool,
}

/// Handles one client connection: one request, one decision.
async fn serve(mut client: TcpStream, shared: Arc<Mutex<Shared>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let Some(request) = read_request(&mut client, &mut buf).await? else {
        return Ok(()); // closed before a request (an idle pooled connection)
    };
    let identity = identity(&request);
    let (fault, upstream, n) = {
        let mut s = lock(&shared);
        let phase = s.phase.clone();
        let counter = s.counters.entry(identity.clone()).or_insert(0);
        let n = *counter;
        *counter += 1;
        let fault = s.plan.decide(&phase, &identity, n);
        s.stats.requests += 1;
        match fault {
            Fault::None => {}
            Fault::Unavailable => s.stats.unavailable += 1,
            Fault::Reset => s.stats.reset += 1,
            Fault::LostAnswer => {
                s.stats.lost_answers += 1;
                s.stats.lost.push(format!("{identity} #{n}"));
            }
        }
        (fault, s.upstream.clone(), n)
    };
    let log = |status: &str| {
        let mut s = lock(&shared);
        s.write_log(&format!("{identity} #{n} {fault:?} {status}"));
    };
    match fault {
        Fault::Unavailable => {
            let body = "injected fault: service unavailable";
            let answer = format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            log("-");
            client.write_all(answer.as_bytes()).await?;
            client.shutdown().await?;
            Ok(())
        }
        Fault::Reset => {
            log("-");
            client.set_zero_linger()?;
            drop(client);
            Ok(())
        }
        Fault::None | Fault::LostAnswer => {
            let answer = forward(&upstream, &request).await?;
            log(&status_of(&answer));
            if fault == Fault::LostAnswer {
                // moto acted; the client never hears of it.
                drop(client);
                return Ok(());
            }
            client.write_all(&answer).await?;
            client.shutdown().await?;
            Ok(())
        }
    }
}

/// Reads one request (head and body). `None` when the client closed first.
async fn read_request(client: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<Request>> {
    let head_end = loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("request head too long"));
        }
        if read_more(client, buf).await? == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(invalid("client closed in the middle of a request head"));
        }
    };
    let head = buf[..head_end].to_vec();
    let text = String::from_utf8_lossy(&head).into_owned();
    let header = |name: &str| -> Option<String> {
        text.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let expects_continue = header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let mut rest = buf[head_end..].to_vec();
    let chunked = header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        let mut pos = 0;
        loop {
            // Chunk size line.
            let line_end = loop {
                if let Some(e) = find(&rest[pos..], b"\r\n") {
                    break pos + e;
                }
                if read_more(client, &mut rest).await? == 0 {
                    return Err(invalid("client closed in a chunked body"));
                }
            };
            let size_text = String::from_utf8_lossy(&rest[pos..line_end]).into_owned();
            let size_hex = size_text.split(';').next().unwrap_or("").trim().to_string();
            let size = usize::from_str_radix(&size_hex, 16).map_err(|_| invalid("bad chunk size"))?;
            pos = line_end + 2;
            if size == 0 {
                // Trailers, then an empty line.
                loop {
                    let e = loop {
                        if let Some(e) = find(&rest[pos..], b"\r\n") {
                            break pos + e;
                        }
                        if read_more(client, &mut rest).await? == 0 {
                            return Err(invalid("client closed in chunked trailers"));
                        }
                    };
                    let empty = e == pos;
                    pos = e + 2;
                    if empty {
                        break;
                    }
                }
                break;
            }
            if size > MAX_BODY || rest.len() > MAX_BODY {
                return Err(invalid("chunked body too large"));
            }
            while rest.len() < pos + size + 2 {
                if read_more(client, &mut rest).await? == 0 {
                    return Err(invalid("client closed in a chunk"));
                }
            }
            pos += size + 2;
        }
        rest.truncate(pos);
        rest
    } else {
        let len: usize = header("content-length").map(|v| v.parse().map_err(|_| invalid("bad content-length"))).transpose()?.unwrap_or(0);
        if len > MAX_BODY {
            return Err(invalid("body too large"));
        }
        while rest.len() < len {
            if read_more(client, &mut rest).await? == 0 {
                return Err(invalid("client closed in the middle of a body"));
            }
        }
        rest.truncate(len);
        rest
    };
    Ok(Some(Request { head, body, expects_continue }))
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = timeout(CLIENT_READ_TIMEOUT, stream.read(&mut chunk)).await.map_err(|_| invalid("client read timed out"))??;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Sends `request` to moto on a new connection and returns moto's whole answer (with
/// `Connection: close`, so it ends with the stream).
async fn forward(upstream: &str, request: &Request) -> std::io::Result<Vec<u8>> {
    let head = rewrite_head(&request.head, request.expects_continue);
    let mut up = timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream)).await.map_err(|_| invalid("connect to moto timed out"))??;
    let exchange = async {
        up.write_all(&head).await?;
        up.write_all(&request.body).await?;
        up.flush().await?;
        let mut answer = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let n = up.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
            if answer.len() > MAX_BODY {
                return Err(invalid("answer too large"));
            }
        }
        Ok::<_, std::io::Error>(answer)
    };
    let answer = timeout(UPSTREAM_TIMEOUT, exchange).await.map_err(|_| invalid("moto answer timed out"))??;
    if answer.is_empty() {
        return Err(invalid("moto closed without answering"));
    }
    Ok(force_close(&answer))
}

/// The request head with `Connection: close` (and without `Expect`, already answered).
fn rewrite_head(head: &[u8], drop_expect: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for (i, line) in text.split("\r\n").enumerate() {
        if line.is_empty() {
            continue;
        }
        if i > 0 {
            let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
            if name == "connection" || name == "keep-alive" || (drop_expect && name == "expect") {
                continue;
            }
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// moto's answer with its `Connection` header replaced by `Connection: close`, so the client
/// does not pool a connection the proxy is about to close.
fn force_close(answer: &[u8]) -> Vec<u8> {
    let Some(end) = find(answer, b"\r\n\r\n") else {
        return answer.to_vec();
    };
    let head = rewrite_head(&answer[..end + 4], false);
    let mut out = head;
    out.extend_from_slice(&answer[end + 4..]);
    out
}

fn status_of(answer: &[u8]) -> String {
    let line_end = find(answer, b"\r\n").unwrap_or(answer.len().min(64));
    String::from_utf8_lossy(&answer[..line_end]).split(' ').nth(1).unwrap_or("?").to_string()
}

/// `service region operation` of a signed AWS request.
fn identity(request: &Request) -> String {
    let text = String::from_utf8_lossy(&request.head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("?");
    let target = parts.next().unwrap_or("/");
    let mut amz_target = None;
    let mut scope = None;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else { continue };
        let k = k.trim().to_ascii_lowercase();
        if k == "x-amz-target" {
            amz_target = Some(v.trim().to_string());
        } else if k == "authorization" {
            // AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ec2/aws4_request, ...
            scope = v.split("Credential=").nth(1).and_then(|c| c.split(',').next()).map(|c| {
                let p: Vec<&str> = c.split('/').collect();
                format!("{} {}", p.get(3).unwrap_or(&"?"), p.get(2).unwrap_or(&"?"))
            });
        }
    }
    let op = amz_target
        .or_else(|| {
            let body = String::from_utf8_lossy(&request.body);
            let query = target.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default();
            body.split('&').chain(query.split('&')).find_map(|kv| kv.strip_prefix("Action=").map(str::to_string))
        })
        .unwrap_or_else(|| {
            let path = target.split('?').next().unwrap_or("/");
            let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
            format!("{method} /{first}")
        });
    format!("{} {op}", scope.unwrap_or_else(|| "? ?".to_string()))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn invalid(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_deterministic_and_near_the_rate() {
        let plan = FaultPlan { seed: 42, rate: 0.2 };
        let a: Vec<Fault> = (0..10_000).map(|n| plan.decide("apply", "ec2 us-east-1 CreateVpc", n)).collect();
        let b: Vec<Fault> = (0..10_000).map(|n| plan.decide("apply", "ec2 us-east-1 CreateVpc", n)).collect();
        assert_eq!(a, b);
        let count = |f: Fault| a.iter().filter(|x| **x == f).count();
        let faulted = 10_000 - count(Fault::None);
        assert!((1700..2300).contains(&faulted), "about 20% faulted, got {faulted}");
        assert!((800..1200).contains(&count(Fault::LostAnswer)), "half of them after forwarding");
        assert!(count(Fault::Unavailable) > 350 && count(Fault::Reset) > 350);
        let other = FaultPlan { seed: 43, rate: 0.2 };
        let c: Vec<Fault> = (0..10_000).map(|n| other.decide("apply", "ec2 us-east-1 CreateVpc", n)).collect();
        assert_ne!(a, c, "another seed gives other decisions");
        let off = FaultPlan { seed: 42, rate: 0.0 };
        assert!((0..1000).all(|n| off.decide("apply", "x", n) == Fault::None));
    }

    #[test]
    fn identity_names_service_region_and_operation() {
        let req = |head: &str, body: &str| Request { head: head.as_bytes().to_vec(), body: body.as_bytes().to_vec(), expects_continue: false };
        let auth = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20261205/us-east-2/ec2/aws4_request, SignedHeaders=host, Signature=x\r\n";
        assert_eq!(identity(&req(&format!("POST / HTTP/1.1\r\n{auth}\r\n"), "Action=CreateVpc&Version=2016-11-15")), "ec2 us-east-2 CreateVpc");
        let auth = auth.replace("us-east-2/ec2", "us-east-1/kms");
        assert_eq!(identity(&req(&format!("POST / HTTP/1.1\r\nX-Amz-Target: TrentService.CreateKey\r\n{auth}\r\n"), "{}")), "kms us-east-1 TrentService.CreateKey");
        let auth = auth.replace("us-east-1/kms", "us-east-1/apigateway");
        assert_eq!(identity(&req(&format!("POST /restapis/abc/resources HTTP/1.1\r\n{auth}\r\n"), "{}")), "apigateway us-east-1 POST /restapis");
    }

    /// A one-shot upstream that counts the requests it answered.
    async fn upstream() -> (String, Arc<Mutex<u32>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = format!("http://{}", listener.local_addr().expect("addr"));
        let served = Arc::new(Mutex::new(0u32));
        let count = served.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let count = count.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    if let Ok(Some(req)) = read_request(&mut s, &mut buf).await {
                        *count.lock().expect("count") += 1;
                        let body = format!("echo {}", String::from_utf8_lossy(&req.body));
                        let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                        let _ = s.write_all(answer.as_bytes()).await;
                    }
                });
            }
        });
        (addr, served)
    }

    async fn send(endpoint: &str, body: &str) -> std::io::Result<Vec<u8>> {
        let mut s = TcpStream::connect(endpoint.trim_start_matches("http://")).await?;
        let req = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        s.write_all(req.as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok(out)
    }

    #[tokio::test]
    async fn each_fault_does_what_it_says() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (up, served) = upstream().await;
        let proxy = FaultProxy::start(&up, FaultPlan { seed: 1, rate: 0.0 }, &dir.path().join("log")).await.expect("proxy");

        // No fault: relayed, with Connection: close.
        let out = String::from_utf8(send(&proxy.endpoint, "Action=Ping").await.expect("relayed")).expect("utf8");
        assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("echo Action=Ping") && out.contains("Connection: close"), "{out}");
        assert_eq!(*served.lock().expect("served"), 1);

        // All faults: find a request identity whose first decision is each kind.
        proxy.set_rate(1.0);
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..200 {
            if seen.len() == 3 {
                break;
            }
            let action = format!("Action=Op{i}");
            let fault = FaultPlan { seed: 1, rate: 1.0 }.decide("", &format!("? ? Op{i}"), 0);
            if !seen.insert(fault) {
                continue; // this kind is already covered
            }
            let before = *served.lock().expect("served");
            let out = send(&proxy.endpoint, &action).await;
            let after = *served.lock().expect("served");
            match fault {
                Fault::Unavailable => {
                    let text = String::from_utf8(out.expect("503 answer")).expect("utf8");
                    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
                    assert_eq!(after, before, "503 is answered before forwarding");
                }
                Fault::Reset => {
                    assert!(out.map(|b| b.is_empty()).unwrap_or(true), "reset: no answer");
                    assert_eq!(after, before, "reset happens before forwarding");
                }
                Fault::LostAnswer => {
                    assert!(out.map(|b| b.is_empty()).unwrap_or(true), "lost answer: nothing reaches the client");
                    assert_eq!(after, before + 1, "the lost answer's request reached the upstream");
                }
                Fault::None => unreachable!("rate 1.0"),
            }
        }
        assert_eq!(seen.len(), 3, "every fault kind exercised: {seen:?}");
        let stats = proxy.take_stats();
        assert_eq!((stats.unavailable, stats.reset, stats.lost_answers, stats.proxy_errors), (1, 1, 1, 0), "{stats}");
    }

    #[tokio::test]
    async fn chunked_request_bodies_are_forwarded_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (up, _) = upstream().await;
        let proxy = FaultProxy::start(&up, FaultPlan { seed: 1, rate: 0.0 }, &dir.path().join("log")).await.expect("proxy");
        let mut s = TcpStream::connect(proxy.endpoint.trim_start_matches("http://")).await.expect("connect");
        s.write_all(b"PUT /b/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n").await.expect("write");
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.expect("read");
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert_eq!(proxy.take_stats().proxy_errors, 0);
    }
}
