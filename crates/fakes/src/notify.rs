//! In-process fakes of the notification services, speaking their documented formats, errors
//! and quirks: an HTTP [`Receiver`] that is at once a plain webhook endpoint, Telegram's Bot
//! API (`/bot<token>/sendMessage`), a Slack and a Discord incoming webhook and an ntfy server;
//! and an [`SmtpServer`] that speaks enough SMTP (EHLO, AUTH PLAIN, MAIL, RCPT, DATA) for an
//! e-mail client. Each can be scripted to fail: 429 with the service's own `retry_after`, 5xx,
//! an answer that never comes, or being down altogether.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The bot token the fake Bot API accepts.
pub const TELEGRAM_TOKEN: &str = "123456:FAKE-telegram-bot-token";
/// The chat the fake Bot API knows.
pub const TELEGRAM_CHAT: &str = "-100200300";
/// The path of the fake Slack webhook (its last part is the token).
pub const SLACK_PATH: &str = "/slack/services/T0000/B0000/fakeSlackToken0001";
/// The path of the fake Discord webhook (its last part is the token).
pub const DISCORD_PATH: &str = "/discord/api/webhooks/1234567890/fakeDiscordToken0001";
/// The path of the plain webhook.
pub const WEBHOOK_PATH: &str = "/webhook";
/// The path of the ntfy topic.
pub const NTFY_PATH: &str = "/ntfy/barter-alerts";

/// Which service a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// The plain webhook.
    Webhook,
    /// Telegram's Bot API.
    Telegram,
    /// Slack's incoming webhook.
    Slack,
    /// Discord's webhook.
    Discord,
    /// ntfy.
    Ntfy,
}

/// How the next request of a service is answered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// As the service answers a good request.
    Accept,
    /// The service's 429, asking to wait this many seconds (Telegram and Discord say it in the
    /// body too; Slack and ntfy only in `Retry-After`).
    RateLimited(f64),
    /// This 5xx status.
    ServerError(u16),
    /// Received (and recorded), then the answer comes only after this long.
    Hang(Duration),
}

/// One request as the receiver saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Which service it was for.
    pub service: Service,
    /// Its path.
    pub path: String,
    /// Its headers, names in lower case.
    pub headers: HashMap<String, String>,
    /// Its body.
    pub body: String,
}

impl Received {
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct Book {
    received: Vec<Received>,
    modes: HashMap<Service, VecDeque<Mode>>,
    message_id: u64,
}

/// The fake HTTP notification services, on one local port.
pub struct Receiver {
    addr: SocketAddr,
    book: Arc<Mutex<Book>>,
    server: JoinHandle<()>,
}

impl Receiver {
    /// Starts the receiver on a free local port.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Starts the receiver on `port` (0: a free one), e.g. again where a stopped one was.
    pub async fn start_on(port: u16) -> Self {
        let book = Arc::new(Mutex::new(Book::default()));
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the fake receiver");
        let addr = listener.local_addr().expect("local address");
        let app = Router::new().fallback(handle).with_state(book.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake receiver runs");
        });
        Self { addr, book, server }
    }

    /// Stops it: from now on connections to its port are refused (the service is down).
    pub async fn stop(mut self) -> u16 {
        self.server.abort();
        let _ = (&mut self.server).await;
        self.addr.port()
    }

    /// Its base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The next requests of `service` are answered with `modes`, in order; then accepted.
    pub fn script(&self, service: Service, modes: &[Mode]) {
        self.lock()
            .modes
            .entry(service)
            .or_default()
            .extend(modes.iter().copied());
    }

    /// Every request received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// The requests received for `service`.
    pub fn received_by(&self, service: Service) -> Vec<Received> {
        self.lock()
            .received
            .iter()
            .filter(|r| r.service == service)
            .cloned()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn service_of(path: &str) -> Option<Service> {
    if path == WEBHOOK_PATH {
        Some(Service::Webhook)
    } else if path.starts_with("/bot") && path.ends_with("/sendMessage") {
        Some(Service::Telegram)
    } else if path.starts_with("/slack/services/") {
        Some(Service::Slack)
    } else if path.starts_with("/discord/api/webhooks/") {
        Some(Service::Discord)
    } else if path.starts_with("/ntfy/") {
        Some(Service::Ntfy)
    } else {
        None
    }
}

fn reply(status: u16, content_type: &str, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("a valid response")
}

fn json_reply(status: u16, body: &Value) -> Response {
    reply(status, "application/json", body.to_string())
}

async fn handle(State(book): State<Arc<Mutex<Book>>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let headers: HashMap<String, String> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let Some(service) = service_of(&path) else {
        return reply(404, "text/plain", "404 page not found".into());
    };
    let body = match axum::body::to_bytes(request.into_body(), 1 << 20).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => return reply(413, "text/plain", "too large".into()),
    };
    let (mode, message_id) = {
        let mut book = book.lock().unwrap_or_else(PoisonError::into_inner);
        book.received.push(Received {
            service,
            path: path.clone(),
            headers: headers.clone(),
            body: body.clone(),
        });
        book.message_id += 1;
        let mode = book
            .modes
            .get_mut(&service)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Mode::Accept);
        (mode, book.message_id)
    };
    match mode {
        Mode::Accept => {}
        Mode::Hang(wait) => tokio::time::sleep(wait).await,
        Mode::ServerError(status) => {
            return match service {
                Service::Telegram => json_reply(
                    status,
                    &json!({"ok": false, "error_code": status, "description": "Internal Server Error"}),
                ),
                _ => reply(
                    status,
                    "text/html",
                    "<html><body>upstream error</body></html>".into(),
                ),
            };
        }
        Mode::RateLimited(secs) => return rate_limited(service, secs),
    }
    accept(service, &path, &headers, &body, message_id)
}

/// Each service's 429, as documented.
fn rate_limited(service: Service, secs: f64) -> Response {
    let whole = secs.ceil().max(0.0).to_string();
    let (content_type, body) = match service {
        Service::Telegram => (
            "application/json",
            json!({"ok": false, "error_code": 429,
                   "description": format!("Too Many Requests: retry after {whole}"),
                   "parameters": {"retry_after": secs.ceil() as u64}})
            .to_string(),
        ),
        Service::Discord => (
            "application/json",
            json!({"message": "You are being rate limited.", "retry_after": secs, "global": false})
                .to_string(),
        ),
        Service::Slack => ("text/plain", "rate_limited".to_owned()),
        Service::Ntfy => (
            "application/json",
            json!({"code": 42901, "http": 429, "error": "limit reached: too many requests"})
                .to_string(),
        ),
        Service::Webhook => ("text/plain", "slow down".to_owned()),
    };
    let mut response = reply(429, content_type, body);
    // Telegram does not send the header; the others do.
    if service != Service::Telegram {
        response
            .headers_mut()
            .insert("retry-after", whole.parse().expect("a header value"));
    }
    response
}

/// A good request's answer, or the service's error for a bad one.
fn accept(
    service: Service,
    path: &str,
    headers: &HashMap<String, String>,
    body: &str,
    message_id: u64,
) -> Response {
    let json: Option<Value> = serde_json::from_str(body).ok();
    match service {
        Service::Webhook => json_reply(200, &json!({"received": true})),
        Service::Telegram => {
            let token = path
                .trim_start_matches("/bot")
                .trim_end_matches("/sendMessage");
            if token != TELEGRAM_TOKEN {
                return json_reply(
                    401,
                    &json!({"ok": false, "error_code": 401, "description": "Unauthorized"}),
                );
            }
            let Some(json) = json else {
                return json_reply(
                    400,
                    &json!({"ok": false, "error_code": 400, "description": "Bad Request: message text is empty"}),
                );
            };
            let chat = match json.get("chat_id") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            if chat != TELEGRAM_CHAT {
                return json_reply(
                    400,
                    &json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}),
                );
            }
            let text = json.get("text").and_then(Value::as_str).unwrap_or("");
            if text.is_empty() || text.chars().count() > 4096 {
                return json_reply(
                    400,
                    &json!({"ok": false, "error_code": 400, "description": "Bad Request: message is too long"}),
                );
            }
            json_reply(
                200,
                &json!({"ok": true, "result": {"message_id": message_id,
                        "chat": {"id": chat.parse::<i64>().unwrap_or(0), "type": "supergroup"},
                        "date": 1_765_000_000, "text": text}}),
            )
        }
        Service::Slack => {
            if path != SLACK_PATH {
                return reply(404, "text/plain", "no_service".into());
            }
            match json
                .as_ref()
                .and_then(|j| j.get("text"))
                .and_then(Value::as_str)
            {
                Some(text) if !text.is_empty() => reply(200, "text/plain", "ok".into()),
                _ => reply(400, "text/plain", "invalid_payload".into()),
            }
        }
        Service::Discord => {
            if path != DISCORD_PATH {
                return json_reply(
                    401,
                    &json!({"message": "Invalid Webhook Token", "code": 50027}),
                );
            }
            match json
                .as_ref()
                .and_then(|j| j.get("content"))
                .and_then(Value::as_str)
            {
                Some(text) if !text.is_empty() && text.chars().count() <= 2000 => {
                    reply(204, "text/plain", String::new())
                }
                _ => json_reply(400, &json!({"message": "Invalid Form Body", "code": 50035})),
            }
        }
        Service::Ntfy => {
            let topic = path.trim_start_matches("/ntfy/");
            json_reply(
                200,
                &json!({"id": format!("msg{message_id}"), "time": 1_765_000_000,
                        "event": "message", "topic": topic, "message": body,
                        "title": headers.get("title").cloned().unwrap_or_default()}),
            )
        }
    }
}

/// How the fake SMTP server treats the next message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    /// Accepted with `250`.
    Accept,
    /// `451` after DATA: a temporary failure, to be retried.
    TemporaryFailure,
    /// `550` to RCPT: the mailbox does not exist, a permanent failure.
    UnknownMailbox,
    /// The greeting never comes.
    Silent,
}

/// One message the fake SMTP server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The message as sent (headers and body).
    pub data: String,
    /// The user name and password of AUTH PLAIN, if the client authenticated.
    pub auth: Option<(String, String)>,
}

#[derive(Default)]
struct Mailbox {
    mails: Vec<Mail>,
    modes: VecDeque<SmtpMode>,
}

/// A fake SMTP server (plain TCP, no TLS) on a free local port.
pub struct SmtpServer {
    addr: SocketAddr,
    mailbox: Arc<Mutex<Mailbox>>,
    server: JoinHandle<()>,
}

impl SmtpServer {
    /// Starts the server.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake SMTP server");
        let addr = listener.local_addr().expect("local address");
        let mailbox = Arc::new(Mutex::new(Mailbox::default()));
        let shared = mailbox.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let mode = shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .modes
                    .pop_front()
                    .unwrap_or(SmtpMode::Accept);
                let mailbox = shared.clone();
                tokio::spawn(async move {
                    let _ = converse(stream, mode, mailbox).await;
                });
            }
        });
        Self {
            addr,
            mailbox,
            server,
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The next connections are treated as `modes` say, in order; then accepted.
    pub fn script(&self, modes: &[SmtpMode]) {
        self.lock().modes.extend(modes.iter().copied());
    }

    /// The messages accepted so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.lock().mails.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Mailbox> {
        self.mailbox.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One SMTP conversation.
async fn converse(
    stream: tokio::net::TcpStream,
    mode: SmtpMode,
    mailbox: Arc<Mutex<Mailbox>>,
) -> std::io::Result<()> {
    if mode == SmtpMode::Silent {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return Ok(());
    }
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 fake.smtp ESMTP ready\r\n").await?;
    let mut mail = Mail {
        from: String::new(),
        to: Vec::new(),
        data: String::new(),
        auth: None,
    };
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let answer: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-fake.smtp\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n".into()
        } else if upper.starts_with("AUTH PLAIN") {
            let encoded = command.split_whitespace().nth(2).unwrap_or("");
            let decoded = base64_decode(encoded).unwrap_or_default();
            let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
            match parts.as_slice() {
                [_, user, password] => {
                    mail.auth = Some((
                        String::from_utf8_lossy(user).into_owned(),
                        String::from_utf8_lossy(password).into_owned(),
                    ));
                    "235 2.7.0 Authentication successful\r\n".into()
                }
                _ => "535 5.7.8 Authentication credentials invalid\r\n".into(),
            }
        } else if upper.starts_with("MAIL FROM:") {
            mail.from = command[10..].trim().to_owned();
            "250 2.1.0 OK\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            if mode == SmtpMode::UnknownMailbox {
                "550 5.1.1 mailbox unavailable\r\n".into()
            } else {
                mail.to.push(command[8..].trim().to_owned());
                "250 2.1.5 OK\r\n".into()
            }
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(&line);
            }
            mail.data = data;
            if mode == SmtpMode::TemporaryFailure {
                "451 4.3.0 try again later\r\n".into()
            } else {
                mailbox
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .mails
                    .push(mail.clone());
                "250 2.0.0 OK queued as FAKE1\r\n".into()
            }
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 OK\r\n".into()
        } else {
            "502 5.5.2 command not recognized\r\n".into()
        };
        write.write_all(answer.as_bytes()).await?;
    }
}

/// Standard base64 (as AUTH PLAIN sends it), `None` when malformed.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let bytes: Vec<u8> = text.bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            acc |= value(*b)? << (18 - 6 * i);
        }
        let take = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        out.extend_from_slice(&acc.to_be_bytes()[1..=take]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_auth_plain() {
        // "\0user\0pass"
        assert_eq!(
            base64_decode("AHVzZXIAcGFzcw==").expect("valid"),
            b"\0user\0pass".to_vec()
        );
        assert!(base64_decode("!!!").is_none());
    }
}
