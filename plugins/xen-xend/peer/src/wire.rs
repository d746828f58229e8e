//! The server side of HTTP/1.1 as xend spoke it: one request per connection, form fields in the
//! query string (GET) or an `application/x-www-form-urlencoded` body (POST).

use std::io::{BufRead, Read, Write};

/// The largest request head and body accepted.
const MAX_HEAD: u64 = 64 << 10;
const MAX_BODY: usize = 4 << 20;

/// One request.
#[derive(Debug)]
pub struct Request {
    /// `GET` or `POST`.
    pub method: String,
    /// The path, percent-decoded, without the query string.
    pub path: String,
    /// The form fields, from the query string then the body.
    pub args: Vec<(String, String)>,
}

#[cfg(test)]
impl Request {
    /// The first value of field `k`.
    pub fn arg(&self, k: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request; `Err` carries the status to answer with.
pub fn read_request(r: &mut impl BufRead) -> Result<Request, (u16, String)> {
    let mut head = r.take(MAX_HEAD);
    let mut line = String::new();
    head.read_line(&mut line)
        .map_err(|e| (400, format!("bad request line: {e}")))?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err((400, "bad request line".into()));
    };
    if !version.starts_with("HTTP/1.") {
        return Err((505, "HTTP/1.x only".into()));
    }
    let method = method.to_string();
    let target = target.to_string();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        let n = head
            .read_line(&mut h)
            .map_err(|e| (400, format!("bad header: {e}")))?;
        if n == 0 {
            return Err((400, "headers do not end".into()));
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            length = v
                .trim()
                .parse()
                .ok()
                .filter(|l| *l <= MAX_BODY)
                .ok_or((413, "bad or too large Content-Length".to_string()))?;
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut args = parse_form(query);
    if length > 0 {
        let mut body = vec![0u8; length];
        r.read_exact(&mut body)
            .map_err(|e| (400, format!("short body: {e}")))?;
        args.extend(parse_form(&String::from_utf8_lossy(&body)));
    }
    Ok(Request {
        method,
        path: percent_decode(path, false),
        args,
    })
}

/// Splits `a=1&b=2` and decodes each side.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The reason phrase of a status.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        406 => "Not Acceptable",
        413 => "Request Entity Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Writes a complete reply.
pub fn respond(
    w: &mut impl Write,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    w.write_all(head.as_bytes())?;
    w.write_all(body)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let raw =
            b"POST /xend/domain/a%20b HTTP/1.1\r\nContent-Length: 22\r\n\r\nop=create&config=%28x+";
        let r = read_request(&mut &raw[..]).unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/xend/domain/a b")
        );
        assert_eq!(r.arg("op"), Some("create"));
        assert_eq!(r.arg("config"), Some("(x "));
        let raw = b"GET /xend/domain?detail=1 HTTP/1.1\r\n\r\n";
        let r = read_request(&mut &raw[..]).unwrap();
        assert_eq!(
            (r.path.as_str(), r.arg("detail")),
            ("/xend/domain", Some("1"))
        );
        assert!(read_request(&mut &b"nonsense\r\n\r\n"[..]).is_err());
        assert_eq!(percent_decode("%zz%4", true), "%zz%4");
    }
}
