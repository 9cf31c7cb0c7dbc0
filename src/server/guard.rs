//! Who may talk to the server. Every route but `GET /health` needs
//! `Authorization: Bearer <token>` (compared in constant time); the token is made on first
//! start into `api-token`, mode 0600. A request whose `Host` or `Origin` is not the
//! server's own is refused, so a web page on another site cannot reach it through DNS
//! rebinding; browsers from `server.cors_origins` are let in with CORS headers. The web
//! page logs in with a session cookie instead (see [`super::login`]); a request that the
//! cookie authorises and that changes something must come from the server's own origin.

use std::net::SocketAddr;

use hyper::Method;
use hyper::StatusCode;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, AUTHORIZATION, COOKIE, HOST, HeaderMap, HeaderValue, ORIGIN, VARY,
};
use subtle::ConstantTimeEq;

use super::http::ApiError;
use crate::home::Home;

/// Reads the token, creating it (32 random bytes, hex) the first time. Two processes
/// starting at once (`serve` and `serve --print-token`) agree on one token: the file is
/// created exclusively, and the loser reads the winner's.
pub(crate) fn load_or_create_token(home: &Home) -> std::io::Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = home.api_token_file();
    for _ in 0..100 {
        match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
            // Being written by the process that created it a moment ago.
            Ok(_) => {
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| std::io::Error::other(err.to_string()))?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(format!("{token}\n").as_bytes())?;
                file.sync_all()?;
                return Ok(token);
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err),
        }
    }
    Err(std::io::Error::other(format!(
        "{} stays empty; delete it to make a new token",
        path.display()
    )))
}

pub struct Guard {
    token: String,
    /// `Host` values that name this server.
    hosts: Vec<String>,
    /// Origins a browser may call from: this server's own and `server.cors_origins`.
    own_origins: Vec<String>,
    cors_origins: Vec<String>,
    /// Bound to a non-loopback address on purpose: any Host is accepted.
    remote: bool,
    /// The web page's logins.
    pub logins: super::login::Logins,
}

impl Guard {
    pub fn new(token: String, address: SocketAddr, remote: bool, cors: &[String]) -> Guard {
        let port = address.port();
        let mut names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "[::1]".to_string(),
        ];
        names.push(match address {
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
        });
        let hosts: Vec<String> = names.iter().map(|name| format!("{name}:{port}")).collect();
        let own_origins = hosts.iter().map(|host| format!("http://{host}")).collect();
        Guard {
            token,
            hosts,
            own_origins,
            cors_origins: cors
                .iter()
                .map(|o| o.trim_end_matches('/').to_string())
                .collect(),
            remote,
            logins: Default::default(),
        }
    }

    /// Refuses a request that comes from somewhere it should not.
    pub(crate) fn check_origin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if !self.remote
            && let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok())
            && !self
                .hosts
                .iter()
                .any(|known| known.eq_ignore_ascii_case(host))
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden_host",
                format!("Host `{host}` is not this server"),
            ));
        }
        if let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok())
            && !self.origin_allowed(origin)
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                format!("Origin `{origin}` may not call this API (server.cors_origins)"),
            ));
        }
        Ok(())
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.own_origins
            .iter()
            .chain(&self.cors_origins)
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }

    /// Whether the request may use the API: the bearer token, or the page's session
    /// cookie — with which a request that changes something must name this server as its
    /// `Origin` (a browser always does), so no other page can make one.
    pub(crate) fn check_token(&self, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim);
        match given {
            Some(token) if bool::from(token.as_bytes().ct_eq(self.token.as_bytes())) => {
                return Ok(());
            }
            Some(_) => return Err(unauthorized("the token is wrong")),
            None => {}
        }
        let cookie = headers
            .get(COOKIE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if !self.logins.knows(cookie) {
            return Err(unauthorized(
                "this route needs `Authorization: Bearer <token>` (`localgpt serve --print-token` \
                 shows it), or the web page's login (`localgpt ui`)",
            ));
        }
        let reads = matches!(*method, Method::GET | Method::HEAD);
        let from_here = headers
            .get(ORIGIN)
            .and_then(|o| o.to_str().ok())
            .is_some_and(|origin| {
                self.own_origins
                    .iter()
                    .any(|own| own.eq_ignore_ascii_case(origin))
            });
        if reads || from_here {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                "a change made with the page's login must come from the page",
            ))
        }
    }

    /// CORS headers for a browser calling from an allowed other origin.
    pub(crate) fn cors_headers(&self, request: &HeaderMap, response: &mut HeaderMap) {
        let Some(origin) = request.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
            return;
        };
        if !self
            .cors_origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
        {
            return;
        }
        if let Ok(value) = HeaderValue::from_str(origin) {
            response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
            response.insert(VARY, HeaderValue::from_static("Origin"));
            response.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
            );
            response.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            );
            response.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (key, value) in pairs {
            map.insert(*key, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn tokens_hosts_and_origins() {
        let address: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let guard = Guard::new(
            "secret".into(),
            address,
            false,
            &["https://app.example".into()],
        );
        assert!(
            guard
                .check_token(
                    &Method::GET,
                    &headers(&[("authorization", "Bearer secret")])
                )
                .is_ok()
        );
        assert!(
            guard
                .check_token(
                    &Method::GET,
                    &headers(&[("authorization", "Bearer secreT")])
                )
                .is_err()
        );
        assert!(guard.check_token(&Method::GET, &headers(&[])).is_err());
        // The page's cookie: reads from anywhere the browser sends it, changes only from
        // the page itself.
        let code = guard.logins.mint_code().unwrap();
        let session = guard.logins.redeem(&code).unwrap();
        let cookie = format!("{}={session}", super::super::login::COOKIE);
        assert!(
            guard
                .check_token(&Method::GET, &headers(&[("cookie", &cookie)]))
                .is_ok()
        );
        assert!(
            guard
                .check_token(&Method::POST, &headers(&[("cookie", &cookie)]))
                .is_err()
        );
        assert!(
            guard
                .check_token(
                    &Method::POST,
                    &headers(&[("cookie", &cookie), ("origin", "http://127.0.0.1:4000")])
                )
                .is_ok()
        );
        assert!(
            guard
                .check_origin(&headers(&[("host", "localhost:4000")]))
                .is_ok()
        );
        assert!(
            guard
                .check_origin(&headers(&[("host", "evil.example:4000")]))
                .is_err()
        );
        assert!(
            guard
                .check_origin(&headers(&[
                    ("host", "127.0.0.1:4000"),
                    ("origin", "https://evil.example")
                ]))
                .is_err()
        );
        assert!(
            guard
                .check_origin(&headers(&[
                    ("host", "127.0.0.1:4000"),
                    ("origin", "https://app.example")
                ]))
                .is_ok()
        );
        let mut response = HeaderMap::new();
        guard.cors_headers(
            &headers(&[("origin", "https://app.example")]),
            &mut response,
        );
        assert_eq!(response[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        let mut response = HeaderMap::new();
        guard.cors_headers(
            &headers(&[("origin", "http://127.0.0.1:4000")]),
            &mut response,
        );
        assert!(response.is_empty(), "same origin needs no CORS");
    }

    #[test]
    fn the_token_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let first = load_or_create_token(&home).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create_token(&home).unwrap(), first);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.api_token_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
