//! Just enough HTTP/1.1 for loopback stand-ins: read one request, write one response, and a
//! one-shot client. Every connection carries one exchange and is then closed
//! (`Connection: close`), which every client on this path (botocore in moto's interpreter,
//! the AWS SDK for Rust in the handlers) handles, and which lets a proxied response be read
//! to its end without understanding its framing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// Requests larger than this are refused: nothing on this path sends more than a template.
const MAX_BODY: usize = 64 * 1024 * 1024;
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed HTTP message: {0}")]
    Malformed(String),
}

/// One HTTP request (or, for [`request`], one response: `method` holds the status line).
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// Request: `POST`; response: the status code as text.
    pub method: String,
    /// Request: path and query; response: the reason phrase.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// A query parameter's raw value.
    pub fn query(&self, name: &str) -> Option<&str> {
        let q = self.target.split_once('?')?.1;
        q.split('&').find_map(|kv| match kv.split_once('=') {
            Some((k, v)) if k == name => Some(v),
            None if kv == name => Some(""),
            _ => None,
        })
    }

    /// The response status (for messages read by [`request`]).
    pub fn status(&self) -> u16 {
        self.method.parse().unwrap_or(0)
    }
}

/// Reads the head and a `Content-Length` or chunked body.
fn read_message(reader: &mut BufReader<impl Read>, until_eof: bool) -> Result<Message, HttpError> {
    let mut first = String::new();
    reader.read_line(&mut first)?;
    if first.is_empty() {
        return Err(HttpError::Malformed(
            "connection closed before a request".into(),
        ));
    }
    let mut parts = first.trim_end().splitn(3, ' ');
    let a = parts.next().unwrap_or_default().to_owned();
    let b = parts.next().unwrap_or_default().to_owned();
    let c = parts.next().unwrap_or_default().to_owned();
    // A request line is `METHOD TARGET VERSION`, a status line `VERSION CODE REASON`.
    let (method, target) = if a.starts_with("HTTP/") {
        (b, c)
    } else {
        (a, b)
    };
    let mut headers = Vec::new();
    let mut head_len = first.len();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        head_len += n;
        if n == 0 || head_len > MAX_HEAD {
            return Err(HttpError::Malformed(
                "header section too long or cut".into(),
            ));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let mut msg = Message {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if msg
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        msg.body = read_chunked(reader)?;
        msg.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("transfer-encoding"));
    } else if let Some(len) = msg.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| HttpError::Malformed(format!("content-length {len:?}")))?;
        if len > MAX_BODY {
            return Err(HttpError::Malformed(format!("body of {len} bytes")));
        }
        msg.body = vec![0; len];
        reader.read_exact(&mut msg.body)?;
    } else if until_eof {
        reader.take(MAX_BODY as u64).read_to_end(&mut msg.body)?;
    }
    Ok(msg)
}

fn read_chunked(reader: &mut BufReader<impl Read>) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = size.trim().split(';').next().unwrap_or("");
        let n = usize::from_str_radix(size, 16)
            .map_err(|_| HttpError::Malformed(format!("chunk size {size:?}")))?;
        if n == 0 {
            // trailers up to the empty line
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l)? == 0 || l.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + n > MAX_BODY {
            return Err(HttpError::Malformed("chunked body too large".into()));
        }
        let start = body.len();
        body.resize(start + n, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

/// Writes a response with `Content-Length` and `Connection: close`.
pub fn write_response(
    stream: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("content-length")
            || k.eq_ignore_ascii_case("connection")
            || k.eq_ignore_ascii_case("transfer-encoding")
        {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Status",
    }
}

/// Sends one request to `addr` and reads the whole response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<Message, HttpError> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    let mut has_host = false;
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("content-length")
            || k.eq_ignore_ascii_case("connection")
            || k.eq_ignore_ascii_case("transfer-encoding")
            || k.eq_ignore_ascii_case("expect")
        {
            continue;
        }
        has_host |= k.eq_ignore_ascii_case("host");
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_host {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    let mut reader = BufReader::new(stream);
    read_message(&mut reader, true)
}

/// A handler of one request: status, headers, body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// Serves `handler` on `listener`, one thread per connection, until the process ends or
/// `stop` is set (checked between connections; the listener is non-blocking for that).
pub fn serve<H>(
    listener: TcpListener,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handler: H,
) -> std::io::Result<std::thread::JoinHandle<()>>
where
    H: Fn(Message) -> Reply + Send + Sync + 'static,
{
    listener.set_nonblocking(true)?;
    let handler = std::sync::Arc::new(handler);
    std::thread::Builder::new()
        .name("keycard-local-http".into())
        .spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let handler = std::sync::Arc::clone(&handler);
                        let _ = std::thread::Builder::new()
                            .name("keycard-local-conn".into())
                            .spawn(move || connection(stream, &*handler));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })
}

fn connection<H: Fn(Message) -> Reply>(stream: TcpStream, handler: &H) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut stream = stream;
    let (status, headers, body) = match read_message(&mut reader, false) {
        Ok(req) => handler(req),
        Err(e) => (400, Vec::new(), e.to_string().into_bytes()),
    };
    let _ = write_response(&mut stream, status, &headers, &body);
}

/// A free port on 127.0.0.1, held open until used.
pub fn bind_loopback() -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn round_trip_with_query_and_body() {
        let listener = bind_loopback().unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let _h = serve(listener, Arc::clone(&stop), |m: Message| {
            let body = format!(
                "{} {} {:?} {}",
                m.method,
                m.path(),
                m.query("a"),
                String::from_utf8_lossy(&m.body)
            );
            (
                201,
                vec![("X-Test".into(), "yes".into())],
                body.into_bytes(),
            )
        })
        .unwrap();
        let r = request(
            addr,
            "PUT",
            "/x/y?a=1&b",
            &[],
            b"hello",
            Duration::from_secs(5),
        )
        .unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(r.status(), 201);
        assert_eq!(r.header("x-test"), Some("yes"));
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "PUT /x/y Some(\"1\") hello"
        );
    }

    #[test]
    fn chunked_bodies_are_read() {
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let mut r = BufReader::new(&raw[..]);
        let m = read_message(&mut r, false).unwrap();
        assert_eq!(m.body, b"hello world");
        assert!(m.header("transfer-encoding").is_none());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for raw in [
            &b""[..],
            b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            b"GET /",
        ] {
            let mut r = BufReader::new(raw);
            assert!(read_message(&mut r, false).is_err());
        }
    }
}
