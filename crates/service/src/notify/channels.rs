//! The channels: each service's message format, how it is sent, and what its answers mean
//! (accepted, try again later — honouring 429 `Retry-After` and Telegram's and Discord's
//! `retry_after` — or refused for good).

use std::time::Duration;

use barter_core::notify::{EventKind, Notification, Severity, WebhookBody};
use serde_json::{Value, json};

use crate::notify_config::{ChannelConfig, ChannelKind, SmtpSecurity};

/// The most bytes of an answer read (the rest is not needed to understand it).
const MAX_ANSWER_BYTES: usize = 16 * 1024;
/// Telegram's limit on a message's text.
const TELEGRAM_MAX_CHARS: usize = 4096;
/// Discord's limit on a message's content.
const DISCORD_MAX_CHARS: usize = 2000;
/// Slack's advised limit on a message's text.
const SLACK_MAX_CHARS: usize = 3000;
/// The longest wait a channel may ask for before the next attempt.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Telegram's Bot API.
pub const TELEGRAM_API: &str = "https://api.telegram.org";

/// The header a webhook's signature travels in: `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "x-barter-signature";
/// The header carrying the event's idempotency key (also in the webhook body).
pub const IDEMPOTENCY_HEADER: &str = "x-barter-idempotency-key";
/// The header naming the event kind.
pub const EVENT_HEADER: &str = "x-barter-event";

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The channel accepted it; the start of its answer.
    Accepted(String),
    /// Not delivered this time: try again, after `after` when the channel said so.
    Retry {
        /// Why.
        error: String,
        /// The wait the channel asked for (429 `Retry-After`, `retry_after`).
        after: Option<Duration>,
    },
    /// Refused in a way another attempt will not change (bad token, unknown chat): given up.
    Refused(String),
}

/// A configured channel with its secret.
pub struct Channel {
    /// As configured.
    pub config: ChannelConfig,
    secret: Option<String>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("config", &self.config)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Channel {
    /// The channel of `config` with its `secret`; an error when a required secret is missing.
    ///
    /// # Errors
    /// Names the environment variable to set.
    pub fn new(config: ChannelConfig, secret: Option<String>) -> Result<Self, String> {
        let secret = secret.filter(|s| !s.trim().is_empty());
        let (what, required) = config.kind.secret();
        if required && secret.is_none() {
            return Err(format!(
                "notification channel `{}` ({}) needs {what} in {}",
                config.name,
                config.kind.as_str(),
                config.secret_var()
            ));
        }
        if let Some(secret) = &secret {
            barter_store::secrets::register(&config.secret_var(), secret);
        }
        Ok(Self { config, secret })
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// `text` with the channel's secret replaced by `***`.
    fn scrub(&self, text: &str) -> String {
        let text = barter_store::secrets::redact(text).into_owned();
        match &self.secret {
            Some(secret) if text.contains(secret.as_str()) => text.replace(secret.as_str(), "***"),
            _ => text,
        }
    }

    /// Sends `n` once and says what came of it.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        n: &Notification,
        public_url: Option<&str>,
    ) -> Attempt {
        let outcome = match self.config.kind {
            ChannelKind::Email => self.send_email(n, public_url).await,
            _ => self.send_http(client, n, public_url).await,
        };
        match outcome {
            Attempt::Accepted(answer) => Attempt::Accepted(self.scrub(&answer)),
            Attempt::Retry { error, after } => Attempt::Retry {
                error: self.scrub(&error),
                after,
            },
            Attempt::Refused(error) => Attempt::Refused(self.scrub(&error)),
        }
    }

    /// The HTTP request of `n` for this channel: URL, headers and body.
    fn request(
        &self,
        client: &reqwest::Client,
        n: &Notification,
        public_url: Option<&str>,
    ) -> Result<reqwest::RequestBuilder, String> {
        let text = n.text(public_url);
        let secret = self.secret.as_deref().unwrap_or_default();
        let config = &self.config;
        let url = |text: Option<&str>| text.map(str::to_owned).ok_or("no URL configured");
        let builder = match config.kind {
            ChannelKind::Webhook => {
                let body = serde_json::to_string(&WebhookBody::of(n, public_url))
                    .map_err(|e| e.to_string())?;
                let mut builder = client
                    .post(url(config.url.as_deref())?)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(EVENT_HEADER, n.kind.as_str())
                    .header(IDEMPOTENCY_HEADER, n.key.as_str());
                if !secret.is_empty() {
                    let signature = barter_http::sign_query(secret, &body);
                    builder = builder.header(SIGNATURE_HEADER, format!("sha256={signature}"));
                }
                builder.body(body)
            }
            ChannelKind::Telegram => {
                let base = config.base_url.as_deref().unwrap_or(TELEGRAM_API);
                let endpoint = format!("{}/bot{secret}/sendMessage", base.trim_end_matches('/'));
                client.post(endpoint).json(&json!({
                    "chat_id": config.chat_id,
                    "text": cut(&text, TELEGRAM_MAX_CHARS),
                    "disable_web_page_preview": true,
                }))
            }
            ChannelKind::Slack => client.post(secret).json(&json!({
                "text": slack_escape(&cut(&text, SLACK_MAX_CHARS)),
            })),
            ChannelKind::Discord => client.post(secret).json(&json!({
                "content": cut(&text, DISCORD_MAX_CHARS),
                // A message quoting a rule or a symbol must never ping anyone.
                "allowed_mentions": {"parse": []},
            })),
            ChannelKind::Ntfy => {
                let mut builder = client
                    .post(url(config.url.as_deref())?)
                    .header("Title", ascii_header(&n.title))
                    .header("Priority", ntfy_priority(n.severity))
                    .header("Tags", ntfy_tags(n.kind, n.severity))
                    .header(IDEMPOTENCY_HEADER, n.key.as_str());
                if let Some(link) = n.link(public_url) {
                    builder = builder.header("Click", link);
                }
                if !secret.is_empty() {
                    builder = builder.bearer_auth(secret);
                }
                // The title travels in its header; the body is the rest.
                let body = n.lines.join("\n");
                builder.body(if body.is_empty() {
                    n.title.clone()
                } else {
                    body
                })
            }
            ChannelKind::Email => return Err("e-mail is not sent over HTTP".to_owned()),
        };
        Ok(builder.timeout(Duration::from_secs(config.timeout_secs)))
    }

    async fn send_http(
        &self,
        client: &reqwest::Client,
        n: &Notification,
        public_url: Option<&str>,
    ) -> Attempt {
        let request = match self.request(client, n, public_url) {
            Ok(request) => request,
            Err(error) => return Attempt::Refused(error),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) if error.is_timeout() => {
                return Attempt::Retry {
                    error: format!("no answer within {}s", self.config.timeout_secs),
                    after: None,
                };
            }
            Err(error) => {
                let what = if error.is_connect() {
                    "could not connect"
                } else {
                    "the request failed"
                };
                // reqwest's text may quote the URL, which carries the token for some channels.
                return Attempt::Retry {
                    error: format!("{what}: {}", without_url(&error)),
                    after: None,
                };
            }
        };
        let status = response.status();
        let header_wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| barter_http::parse_retry_after(text, chrono::Utc::now()));
        let body = match read_bounded(response).await {
            Ok(body) => body,
            Err(error) => {
                return Attempt::Retry {
                    error: format!(
                        "HTTP {}: the answer could not be read: {error}",
                        status.as_u16()
                    ),
                    after: None,
                };
            }
        };
        interpret(self.config.kind, status.as_u16(), header_wait, &body)
    }

    async fn send_email(&self, n: &Notification, public_url: Option<&str>) -> Attempt {
        use lettre::message::header::ContentType;
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

        let config = &self.config;
        let host = config.smtp_host.as_deref().unwrap_or_default();
        let built = match config.security {
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host,
            )),
        };
        let mut transport = match built {
            Ok(builder) => builder,
            Err(error) => return Attempt::Refused(format!("SMTP settings: {error}")),
        };
        let port = config.smtp_port.unwrap_or(match config.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        });
        transport = transport
            .port(port)
            .timeout(Some(Duration::from_secs(config.timeout_secs)));
        if let Some(user) = &config.username {
            let password = self.secret.clone().unwrap_or_default();
            transport = transport.credentials(Credentials::new(user.clone(), password));
        }
        let transport = transport.build();
        let mut message = Message::builder()
            .subject(format!("[barter] {}", n.title))
            .header(ContentType::TEXT_PLAIN)
            // The same Message-ID for every delivery of one event: a mail system may drop the
            // duplicate a crash between sending and recording can cause.
            .message_id(Some(format!("<{}@barter>", message_id_part(&n.key))));
        match config.from.as_deref().map(str::parse) {
            Some(Ok(from)) => message = message.from(from),
            _ => return Attempt::Refused("`from` is not an e-mail address".to_owned()),
        }
        for to in &config.to {
            match to.parse() {
                Ok(to) => message = message.to(to),
                Err(_) => return Attempt::Refused("a `to` entry is not an e-mail address".into()),
            }
        }
        let message = match message.body(n.text(public_url)) {
            Ok(message) => message,
            Err(error) => {
                return Attempt::Refused(format!("the message could not be built: {error}"));
            }
        };
        // lettre's own timeout covers each command; this bounds the whole conversation.
        let whole = Duration::from_secs(config.timeout_secs.saturating_mul(3));
        match tokio::time::timeout(whole, transport.send(message)).await {
            Err(_) => Attempt::Retry {
                error: format!("the SMTP server did not finish within {}s", whole.as_secs()),
                after: None,
            },
            Ok(Ok(response)) => Attempt::Accepted(format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            )),
            Ok(Err(error)) if error.is_permanent() => {
                Attempt::Refused(format!("the SMTP server refused it: {error}"))
            }
            Ok(Err(error)) => Attempt::Retry {
                error: format!("SMTP: {error}"),
                after: None,
            },
        }
    }
}

/// What an HTTP answer of a channel of `kind` means.
fn interpret(kind: ChannelKind, status: u16, header_wait: Option<Duration>, body: &str) -> Attempt {
    let excerpt = barter_http::excerpt(&body.split_whitespace().collect::<Vec<_>>().join(" "));
    let json: Option<Value> = serde_json::from_str(body).ok();
    // Telegram says `retry_after` in its body, Discord too (in seconds, maybe fractional).
    let body_wait = json.as_ref().and_then(|v| {
        v.pointer("/parameters/retry_after")
            .or_else(|| v.get("retry_after"))
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(MAX_RETRY_AFTER.as_secs_f64())))
    });
    let what = match json
        .as_ref()
        .and_then(|v| v.get("description").or_else(|| v.get("message")))
        .and_then(Value::as_str)
    {
        Some(text) => barter_http::excerpt(text),
        None => excerpt.clone(),
    };
    match status {
        200..=299 => {
            // Telegram answers 200 with `"ok": false` in no documented case, but be sure.
            if kind == ChannelKind::Telegram
                && json
                    .as_ref()
                    .and_then(|v| v.get("ok"))
                    .and_then(Value::as_bool)
                    == Some(false)
            {
                return Attempt::Refused(format!("Telegram said: {what}"));
            }
            Attempt::Accepted(format!("HTTP {status} {excerpt}").trim_end().to_owned())
        }
        429 => Attempt::Retry {
            error: format!("HTTP 429 rate limited: {what}"),
            after: header_wait.or(body_wait).map(|w| w.min(MAX_RETRY_AFTER)),
        },
        408 | 500..=599 => Attempt::Retry {
            error: format!("HTTP {status}: {what}"),
            after: header_wait.map(|w| w.min(MAX_RETRY_AFTER)),
        },
        _ => Attempt::Refused(format!("HTTP {status}: {what}")),
    }
}

/// Reads at most [`MAX_ANSWER_BYTES`] of an answer's body.
async fn read_bounded(mut response: reqwest::Response) -> Result<String, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| without_url(&e))? {
        let room = MAX_ANSWER_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ANSWER_BYTES {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// A reqwest error's words without its URL (a Slack, Discord or Telegram URL holds a token).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    barter_http::excerpt(&text)
}

/// `text` cut to at most `max` characters.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Slack's three control characters escaped, so a symbol or a rule cannot form a link or a
/// mention.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A header value of printable ASCII (ntfy's Title): other characters become `?`.
fn ascii_header(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .take(250)
        .collect()
}

/// The local part of a Message-ID made of `key` (letters, digits and `.-_` kept).
fn message_id_part(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '.'
            }
        })
        .take(200)
        .collect()
}

/// ntfy's priority of a severity (5 = urgent).
fn ntfy_priority(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "3",
        Severity::Warning => "4",
        Severity::Critical => "5",
    }
}

/// ntfy's tags: the event kind and an emoji short code by severity.
fn ntfy_tags(kind: EventKind, severity: Severity) -> String {
    let emoji = match severity {
        Severity::Info => "information_source",
        Severity::Warning => "warning",
        Severity::Critical => "rotating_light",
    };
    format!("{emoji},{}", kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_mean_what_each_service_documents() {
        let telegram_429 = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#;
        assert_eq!(
            interpret(ChannelKind::Telegram, 429, None, telegram_429),
            Attempt::Retry {
                error: "HTTP 429 rate limited: Too Many Requests: retry after 7".into(),
                after: Some(Duration::from_secs(7)),
            }
        );
        let discord_429 =
            r#"{"message":"You are being rate limited.","retry_after":0.5,"global":false}"#;
        let Attempt::Retry { after, .. } = interpret(ChannelKind::Discord, 429, None, discord_429)
        else {
            panic!("a 429 is retried");
        };
        assert_eq!(after, Some(Duration::from_millis(500)));
        // The header wins over the body; an absurd wait is capped.
        let Attempt::Retry { after, .. } = interpret(
            ChannelKind::Slack,
            429,
            Some(Duration::from_secs(999_999)),
            "",
        ) else {
            panic!("a 429 is retried");
        };
        assert_eq!(after, Some(MAX_RETRY_AFTER));
        assert!(matches!(
            interpret(ChannelKind::Telegram, 400, None, r#"{"ok":false,"description":"Bad Request: chat not found"}"#),
            Attempt::Refused(e) if e.contains("chat not found")
        ));
        assert!(matches!(
            interpret(ChannelKind::Webhook, 503, None, "down"),
            Attempt::Retry { .. }
        ));
        assert!(matches!(
            interpret(ChannelKind::Discord, 204, None, ""),
            Attempt::Accepted(_)
        ));
    }

    #[test]
    fn text_is_made_safe_for_each_format() {
        assert_eq!(slack_escape("a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(ascii_header("Opened 1 BTC → ok\n"), "Opened 1 BTC ? ok?");
        assert_eq!(message_id_part("position_opened:12"), "position_opened.12");
        assert_eq!(cut(&"x".repeat(5000), 10).chars().count(), 10);
    }

    #[test]
    fn a_missing_required_secret_names_its_variable() {
        let config: ChannelConfig =
            toml::from_str("name = \"tg\"\nkind = \"telegram\"\nchat_id = \"1\"").expect("config");
        let error = Channel::new(config, None).expect_err("no token");
        assert!(error.contains("BARTER_NOTIFY_TG_SECRET"), "{error}");
    }
}
