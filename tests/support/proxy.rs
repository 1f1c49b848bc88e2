//! A fault-injecting HTTP/1.1 proxy between real AWS clients (the SDK in the
//! test process, or child processes given `endpoint()`) and the moto server.
//! Nothing is mocked: requests are real, forwarded byte for byte to a real
//! moto, and faults happen where they happen on a network: a request that is
//! never delivered, an answer that is lost after the write happened, a slow
//! path, a server error, a connection reset.
//!
//! Requests and responses are parsed message by message on each keep-alive
//! connection (`Content-Length`, chunked, or until EOF), so rules apply per
//! request. Every client connection gets its own upstream connection. Threads
//! block on their sockets; `clear` and `Drop` wake them by shutting the sockets.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A running proxy; dropping it closes every connection and joins its threads.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// Which requests a fault applies to, and how many times.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Operation name to match (`PutItem`, `GetObject`, `"GET /path"`…); None matches every request.
    pub op: Option<String>,
    /// Substring that must appear in the request path+query or body; None = any.
    pub contains: Option<String>,
    pub action: Action,
    /// How many requests this rule applies to; None = until cleared.
    pub times: Option<u32>,
}

/// What the proxy does with a matching request.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Forwards the request and its response unchanged (a healthy network).
    Pass,
    /// Reads the request, never forwards it, never answers; the connection stays open (a dead network path).
    /// It is released (closed) by `clear`, by the client giving up, or by dropping the proxy.
    BlackHole,
    /// Forwards the request, waits for the full upstream response, then closes the client connection without
    /// sending any of it (the write happened; the answer was lost).
    DropResponse,
    /// Waits this long, then forwards normally (a slow path).
    Delay(Duration),
    /// Answers this HTTP status itself without forwarding, with an AWS-style error body (JSON for DynamoDB,
    /// XML for S3): the service refused or failed the request and nothing was applied.
    Error(u16),
    /// Closes the client connection at once without forwarding (a connection reset before delivery).
    Reset,
}

/// One request the proxy saw, and what it did with it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub op: String,
    pub action: Action,
    pub at: Instant,
}

impl Rule {
    /// Every request of operation `op`, until cleared.
    pub fn new(op: &str, action: Action) -> Rule {
        Rule { op: Some(op.to_string()), contains: None, action, times: None }
    }

    /// Every request, until cleared.
    pub fn all(action: Action) -> Rule {
        Rule { op: None, contains: None, action, times: None }
    }

    /// Only the next matching request.
    pub fn once(self) -> Rule {
        self.times(1)
    }

    /// Only the next `n` matching requests.
    pub fn times(self, n: u32) -> Rule {
        Rule { times: Some(n), ..self }
    }

    /// Only requests whose path+query or body contains `s`.
    pub fn containing(self, s: &str) -> Rule {
        Rule { contains: Some(s.to_string()), ..self }
    }

    fn matches(&self, req: &Request) -> bool {
        self.times != Some(0)
            && self.op.as_ref().is_none_or(|op| *op == req.op)
            && self.contains.as_ref().is_none_or(|s| {
                req.target.contains(s.as_str()) || String::from_utf8_lossy(&req.raw[req.body..]).contains(s.as_str())
            })
    }
}

/// This client connection's upstream connection, once opened.
type Upstream = Option<BufReader<TcpStream>>;

struct Shared {
    upstream: SocketAddr,
    closed: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    log: Vec<Entry>,
    /// Open client connections by id, so that `clear` and `Drop` can close them.
    conns: HashMap<u64, Conn>,
    next_id: u64,
    threads: Vec<JoinHandle<()>>,
}

struct Conn {
    client: TcpStream,
    upstream: Option<TcpStream>,
    /// Black-holed: `clear` closes it.
    held: bool,
}

impl Conn {
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        if let Some(up) = &self.upstream {
            let _ = up.shutdown(Shutdown::Both);
        }
    }
}

impl Proxy {
    /// Listens on 127.0.0.1:0 and forwards to `upstream` ("http://127.0.0.1:PORT").
    pub fn start(upstream: &str) -> Proxy {
        let hostport = upstream.trim_start_matches("http://").trim_end_matches('/');
        let upstream = hostport
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .unwrap_or_else(|| panic!("bad upstream address {upstream:?}"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared { upstream, closed: AtomicBool::new(false), state: Mutex::default() });
        let sh = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || accept_loop(&sh, &listener))
            .expect("spawning the proxy");
        Proxy { addr, shared, acceptor: Some(acceptor) }
    }

    /// "http://127.0.0.1:<port>"
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a rule; rules are checked in order, the first matching one with
    /// remaining uses applies; no match → Action::Pass.
    pub fn add(&self, rule: Rule) {
        self.shared.lock().rules.push(rule);
    }

    /// Removes all rules (hung black-holed requests are released: their client connection is closed).
    pub fn clear(&self) {
        let mut st = self.shared.lock();
        st.rules.clear();
        for conn in st.conns.values().filter(|c| c.held) {
            conn.close();
        }
    }

    /// Every request seen, in order.
    pub fn log(&self) -> Vec<Entry> {
        self.shared.lock().log.clone()
    }

    /// How many requests a given operation name had (any action).
    pub fn count(&self, op: &str) -> usize {
        self.shared.lock().log.iter().filter(|e| e.op == op).count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        {
            let st = self.shared.lock();
            self.shared.closed.store(true, Ordering::SeqCst);
            st.conns.values().for_each(Conn::close);
        }
        // Wake the blocked accept; it sees `closed` and returns.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let threads = std::mem::take(&mut self.shared.lock().threads);
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    for stream in listener.incoming() {
        if shared.closed.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Some(id) = shared.register(&stream) else { return };
        let sh = Arc::clone(shared);
        let spawned = thread::Builder::new().name("proxy-conn".into()).spawn(move || sh.serve(id, stream));
        let mut st = shared.lock();
        st.threads.retain(|t| !t.is_finished());
        match spawned {
            Ok(t) => st.threads.push(t),
            Err(_) => drop(st.conns.remove(&id)),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(&self, client: &TcpStream) -> Option<u64> {
        let mut st = self.lock();
        if self.closed.load(Ordering::SeqCst) {
            return None;
        }
        let client = client.try_clone().ok()?;
        st.next_id += 1;
        let id = st.next_id;
        st.conns.insert(id, Conn { client, upstream: None, held: false });
        Some(id)
    }

    fn serve(&self, id: u64, client: TcpStream) {
        let _ = self.handle(id, client);
        if let Some(conn) = self.lock().conns.remove(&id) {
            conn.close();
        }
    }

    /// Applies the first matching rule (using it up) and logs the request.
    fn decide(&self, id: u64, req: &Request) -> Action {
        let mut st = self.lock();
        let action = match st.rules.iter_mut().find(|r| r.matches(req)) {
            Some(rule) => {
                rule.times = rule.times.map(|n| n - 1);
                rule.action.clone()
            }
            None => Action::Pass,
        };
        st.log.push(Entry { op: req.op.clone(), action: action.clone(), at: Instant::now() });
        if action == Action::BlackHole {
            if let Some(conn) = st.conns.get_mut(&id) {
                conn.held = true;
            }
        }
        action
    }

    /// One client connection: request by request until either side closes.
    fn handle(&self, id: u64, client: TcpStream) -> io::Result<()> {
        let mut reader = BufReader::new(client.try_clone()?);
        let mut writer = client;
        let mut upstream: Upstream = None;
        while let Some(req) = read_request(&mut reader, &mut writer)? {
            let action = self.decide(id, &req);
            match action {
                Action::Pass | Action::DropResponse => {}
                Action::Delay(d) => {
                    let until = Instant::now() + d;
                    while let Some(left) = until.checked_duration_since(Instant::now()) {
                        if self.closed.load(Ordering::SeqCst) {
                            return Ok(());
                        }
                        thread::sleep(left.min(Duration::from_millis(20)));
                    }
                }
                Action::BlackHole => {
                    // Hold the connection until the client, `clear` or `Drop` closes it.
                    let mut sink = [0u8; 4096];
                    while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
                    return Ok(());
                }
                Action::Reset => return Ok(()),
                Action::Error(status) => {
                    writer.write_all(&error_response(status, &req))?;
                    continue;
                }
            }
            let (response, until_eof) = self.exchange(id, &mut upstream, &req)?;
            if action == Action::DropResponse {
                return Ok(());
            }
            writer.write_all(&response)?;
            if until_eof || req.head.has_token("connection", "close") {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Sends `req` upstream (connecting again if the upstream closed) and reads the whole response; true when
    /// it was delimited by the upstream closing.
    fn exchange(&self, id: u64, upstream: &mut Upstream, req: &Request) -> io::Result<(Vec<u8>, bool)> {
        let mut sent = false;
        if let Some(up) = upstream.as_mut().filter(|up| up.buffer().is_empty() && alive(up.get_ref())) {
            sent = up.get_mut().write_all(&req.raw).is_ok();
        }
        if !sent {
            let stream = TcpStream::connect(self.upstream)?;
            let _ = stream.set_nodelay(true);
            {
                let mut st = self.lock();
                let conn = st.conns.get_mut(&id).filter(|_| !self.closed.load(Ordering::SeqCst));
                let conn = conn.ok_or_else(|| io::Error::other("proxy closed"))?;
                conn.upstream = Some(stream.try_clone()?);
            }
            let up = upstream.insert(BufReader::new(stream));
            up.get_mut().write_all(&req.raw)?;
        }
        let up = upstream.as_mut().expect("connected above");
        let (response, until_eof, close) = read_response(up, req.method == "HEAD")?;
        if close {
            *upstream = None;
        }
        Ok((response, until_eof))
    }
}

/// True when the idle upstream connection is still open (nothing to read, no EOF).
fn alive(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let peeked = stream.peek(&mut [0u8; 1]);
    stream.set_nonblocking(false).is_ok() && matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

struct Head {
    raw: Vec<u8>,
    first: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .any(|(_, v)| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    fn framing(&self) -> io::Result<Framing> {
        if self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding")) {
            return Ok(if self.has_token("transfer-encoding", "chunked") { Framing::Chunked } else { Framing::Eof });
        }
        match self.header("content-length") {
            Some(v) => v.trim().parse().map(Framing::Length).map_err(|_| invalid("bad content-length")),
            None => Ok(Framing::Eof),
        }
    }
}

enum Framing {
    Length(u64),
    Chunked,
    Eof,
}

struct Request {
    head: Head,
    method: String,
    target: String,
    op: String,
    /// The whole request as received; the body starts at `body`.
    raw: Vec<u8>,
    body: usize,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn eof() -> io::Error {
    io::Error::from(io::ErrorKind::UnexpectedEof)
}

/// Reads a message head (start line and headers); None on a clean EOF before it.
fn read_head(r: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut raw = Vec::new();
    let mut lines = Vec::new();
    loop {
        let start = raw.len();
        if r.read_until(b'\n', &mut raw)? == 0 {
            return if raw.is_empty() { Ok(None) } else { Err(eof()) };
        }
        let line = String::from_utf8_lossy(&raw[start..]).trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            if lines.is_empty() {
                raw.clear(); // stray CRLF between messages
                continue;
            }
            break;
        }
        lines.push(line);
    }
    let first = lines.remove(0);
    let headers = lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Some(Head { raw, first, headers }))
}

/// Appends a body framed by Content-Length or chunked encoding (framing and trailers included) to `out`.
fn read_body(r: &mut impl BufRead, framing: &Framing, out: &mut Vec<u8>) -> io::Result<()> {
    match framing {
        Framing::Length(n) => read_exact(r, *n, out),
        Framing::Eof => r.read_to_end(out).map(drop),
        Framing::Chunked => loop {
            let start = out.len();
            if r.read_until(b'\n', out)? == 0 {
                return Err(eof());
            }
            let line = String::from_utf8_lossy(&out[start..]);
            let size = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
            if size == 0 {
                loop {
                    let start = out.len();
                    if r.read_until(b'\n', out)? == 0 {
                        return Err(eof());
                    }
                    if out[start..] == *b"\r\n" || out[start..] == *b"\n" {
                        return Ok(());
                    }
                }
            }
            read_exact(r, size + 2, out)?;
        },
    }
}

fn read_exact(r: &mut impl BufRead, n: u64, out: &mut Vec<u8>) -> io::Result<()> {
    (r.by_ref().take(n).read_to_end(out)? as u64 == n).then_some(()).ok_or_else(eof)
}

/// Reads one request; answers `Expect: 100-continue` itself so the body can be read before deciding.
fn read_request(r: &mut impl BufRead, client: &mut TcpStream) -> io::Result<Option<Request>> {
    let Some(head) = read_head(r)? else { return Ok(None) };
    let mut parts = head.first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    if head.has_token("expect", "100-continue") {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut raw = head.raw.clone();
    let body = raw.len();
    match head.framing()? {
        Framing::Eof => {} // a request without Content-Length or chunking has no body
        framing => read_body(r, &framing, &mut raw)?,
    }
    let op = operation(&head, &method, &target);
    Ok(Some(Request { head, method, target, op, raw, body }))
}

/// The whole response (interim 1xx responses skipped), whether its body ran to EOF, and whether the upstream
/// connection is done (EOF or `Connection: close`).
fn read_response(r: &mut impl BufRead, head_request: bool) -> io::Result<(Vec<u8>, bool, bool)> {
    loop {
        let head = read_head(r)?.ok_or_else(eof)?;
        let status: u16 = head.first.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        if (100..200).contains(&status) {
            continue;
        }
        let framing = if head_request || status == 204 || status == 304 { Framing::Length(0) } else { head.framing()? };
        let until_eof = matches!(framing, Framing::Eof);
        let close = until_eof || head.has_token("connection", "close") || head.first.starts_with("HTTP/1.0");
        let mut raw = head.raw;
        read_body(r, &framing, &mut raw)?;
        return Ok((raw, until_eof, close));
    }
}

/// DynamoDB: the part after the last '.' of X-Amz-Target; S3: the `x-id` query parameter; else "METHOD /path".
fn operation(head: &Head, method: &str, target: &str) -> String {
    if let Some(t) = head.header("x-amz-target") {
        return t.rsplit('.').next().unwrap_or(t).to_string();
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match query.split('&').find_map(|p| p.strip_prefix("x-id=")) {
        Some(id) => id.to_string(),
        None => format!("{method} {path}"),
    }
}

/// An AWS-style error answer for `status`, as DynamoDB (JSON) or S3 (XML) would send it.
fn error_response(status: u16, req: &Request) -> Vec<u8> {
    let dynamodb = req.head.header("x-amz-target").is_some();
    let (reason, dynamo_code, s3_code) = match status {
        400 => ("Bad Request", "ValidationException", "InvalidRequest"),
        403 => ("Forbidden", "AccessDeniedException", "AccessDenied"),
        404 => ("Not Found", "ResourceNotFoundException", "NoSuchKey"),
        429 => ("Too Many Requests", "ThrottlingException", "SlowDown"),
        503 => ("Service Unavailable", "ServiceUnavailable", "SlowDown"),
        500 => ("Internal Server Error", "InternalServerError", "InternalError"),
        _ => ("Error", "InternalServerError", "InternalError"),
    };
    let (content_type, body) = if dynamodb {
        let body = format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{dynamo_code}","message":"injected"}}"#);
        ("application/x-amz-json-1.0", body)
    } else {
        ("application/xml", format!("<Error><Code>{s3_code}</Code><Message>injected</Message></Error>"))
    };
    let body = if req.method == "HEAD" { String::new() } else { body };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         x-amzn-RequestId: injected\r\nx-amz-request-id: injected\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
