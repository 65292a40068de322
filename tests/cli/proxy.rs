//! A small HTTP/1.1 proxy in front of moto's server: it counts requests by AWS
//! action (`X-Amz-Target`), and can answer a share of them with
//! ThrottlingException, or hold them without answering. Test code only: it forwards
//! to the real server, it does not imitate it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the proxy does with requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Forward everything.
    Forward,
    /// Answer every `n`-th request with ThrottlingException.
    ThrottleEvery(usize),
    /// Answer every request of this action with ThrottlingException (a spent quota).
    #[allow(dead_code)] // used by the fetch tests, not by benches/secrets.rs
    ThrottleAction(&'static str),
    /// Accept connections and never answer.
    Hang,
    /// Forward everything but this action, which is never answered.
    #[allow(dead_code)] // used by the rotation tests, not by benches/secrets.rs
    HangOn(&'static str),
    /// Forward every request after this many milliseconds (a distant region).
    #[allow(dead_code)] // used by benches/secrets.rs, which includes this file
    DelayMs(u64),
    /// AWS's two rate quotas as token buckets (requests per second, a second of
    /// burst): a request that finds its action's bucket empty is throttled.
    #[allow(dead_code)] // used by benches/storm.rs, which includes this file
    Quota {
        /// BatchGetSecretValue requests per second.
        batch_per_sec: u32,
        /// GetSecretValue requests per second.
        single_per_sec: u32,
        /// Parameter Store's GetParameters requests per second.
        parameters_per_sec: u32,
    },
}

/// One token bucket.
struct Bucket {
    tokens: f64,
    rate: f64,
    last: std::time::Instant,
}

impl Bucket {
    fn new(rate: u32) -> Self {
        Self {
            tokens: f64::from(rate),
            rate: f64::from(rate),
            last: std::time::Instant::now(),
        }
    }

    /// Takes a token if there is one.
    fn take(&mut self) -> bool {
        let now = std::time::Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The quota buckets of a [`Behaviour::Quota`] proxy, shared by its connections.
type Buckets = Arc<Mutex<HashMap<&'static str, Bucket>>>;

/// A running proxy; it lives as long as the test process.
pub(crate) struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    arrivals: Arrivals,
}

/// When each request arrived, with its action.
type Arrivals = Arc<Mutex<Vec<(String, Instant)>>>;

impl Proxy {
    /// Starts a proxy to `upstream` (an `http://host:port` URL).
    pub(crate) fn start(upstream: &str, behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let seen = Arc::new(AtomicUsize::new(0));
        let shared = Arc::clone(&counts);
        let arrivals: Arrivals = Arc::default();
        let arrived = Arc::clone(&arrivals);
        let buckets: Buckets = Arc::new(Mutex::new(HashMap::new()));
        if let Behaviour::Quota {
            batch_per_sec,
            single_per_sec,
            parameters_per_sec,
        } = behaviour
        {
            let mut quota = buckets.lock().unwrap();
            quota.insert("BatchGetSecretValue", Bucket::new(batch_per_sec));
            quota.insert("GetSecretValue", Bucket::new(single_per_sec));
            quota.insert("GetParameters", Bucket::new(parameters_per_sec));
        }
        std::thread::spawn(move || {
            for connection in listener.incoming().flatten() {
                let upstream = upstream.clone();
                let counts = Arc::clone(&shared);
                let seen = Arc::clone(&seen);
                let buckets = Arc::clone(&buckets);
                let arrived = Arc::clone(&arrived);
                std::thread::spawn(move || {
                    let log = Log {
                        counts: &counts,
                        arrivals: &arrived,
                        seen: &seen,
                    };
                    serve(connection, &upstream, behaviour, &log, &buckets);
                });
            }
        });
        Self {
            url,
            counts,
            arrivals,
        }
    }

    /// When each request of `action` arrived, in order.
    #[allow(dead_code)] // used by the retry tests, not by the benches
    pub(crate) fn arrivals(&self, action: &str) -> Vec<Instant> {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|(seen, _)| seen == action)
            .map(|(_, at)| *at)
            .collect()
    }

    /// Requests seen for an action such as `BatchGetSecretValue`.
    pub(crate) fn count(&self, action: &str) -> usize {
        self.counts
            .lock()
            .unwrap()
            .get(action)
            .copied()
            .unwrap_or(0)
    }

    /// All requests seen (a throttled one counts once, under its action).
    pub(crate) fn total(&self) -> usize {
        self.counts
            .lock()
            .unwrap()
            .iter()
            .filter(|(action, _)| !action.ends_with(" throttled"))
            .map(|(_, count)| count)
            .sum()
    }
}

/// What the proxy records about the requests it sees.
struct Log<'a> {
    counts: &'a Mutex<HashMap<String, usize>>,
    arrivals: &'a Mutex<Vec<(String, Instant)>>,
    seen: &'a AtomicUsize,
}

struct Request {
    head: Vec<String>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let mut request = Request {
        head,
        body: Vec::new(),
    };
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).ok()?;
    Some(request)
}

fn serve(
    client: TcpStream,
    upstream: &str,
    behaviour: Behaviour,
    log: &Log<'_>,
    buckets: &Buckets,
) {
    let mut writer = client.try_clone().unwrap();
    let mut reader = BufReader::new(client);
    while let Some(request) = read_request(&mut reader) {
        let action = request
            .header("x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("other")
            .to_owned();
        *log.counts
            .lock()
            .unwrap()
            .entry(action.clone())
            .or_default() += 1;
        log.arrivals
            .lock()
            .unwrap()
            .push((action.clone(), Instant::now()));
        let number = log.seen.fetch_add(1, Ordering::Relaxed) + 1;
        let response = match behaviour {
            Behaviour::Hang => {
                std::thread::sleep(Duration::from_secs(120));
                return;
            }
            Behaviour::HangOn(hung) if action == hung => {
                std::thread::sleep(Duration::from_secs(120));
                return;
            }
            Behaviour::ThrottleEvery(n) if number.is_multiple_of(n) => throttled(),
            Behaviour::ThrottleAction(spent) if action == spent => throttled(),
            Behaviour::Quota { .. }
                if buckets
                    .lock()
                    .unwrap()
                    .get_mut(action.as_str())
                    .is_some_and(|bucket| !bucket.take()) =>
            {
                *log.counts
                    .lock()
                    .unwrap()
                    .entry(format!("{action} throttled"))
                    .or_default() += 1;
                throttled()
            }
            Behaviour::DelayMs(delay) => {
                std::thread::sleep(Duration::from_millis(delay));
                match forward(upstream, &request) {
                    Some(response) => response,
                    None => return,
                }
            }
            _ => match forward(upstream, &request) {
                Some(response) => response,
                None => return,
            },
        };
        if writer.write_all(&response).is_err() {
            return;
        }
    }
}

fn throttled() -> Vec<u8> {
    let body = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: ThrottlingException\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends the request upstream on its own connection and returns the response,
/// re-framed with `Content-Length` so the client connection can be kept alive.
fn forward(upstream: &str, request: &Request) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).ok()?;
    let mut out = Vec::new();
    for (index, line) in request.head.iter().enumerate() {
        let lower = line.to_ascii_lowercase();
        if index > 0 && lower.starts_with("connection:") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&request.body);
    server.write_all(&out).ok()?;
    let mut reader = BufReader::new(server);
    let mut status = String::new();
    reader.read_line(&mut status).ok()?;
    let mut headers = Vec::new();
    let mut length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse::<usize>().ok();
        }
        if lower.starts_with("connection:")
            || lower.starts_with("transfer-encoding:")
            || lower.starts_with("content-length:")
        {
            continue;
        }
        headers.push(line);
    }
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            reader.read_exact(&mut body).ok()?;
        }
        None => {
            reader.read_to_end(&mut body).ok()?;
        }
    }
    let mut response = status.into_bytes();
    for header in headers {
        response.extend_from_slice(header.as_bytes());
        response.extend_from_slice(b"\r\n");
    }
    response.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    response.extend_from_slice(&body);
    Some(response)
}
