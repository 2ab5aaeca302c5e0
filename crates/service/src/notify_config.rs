//! `[[notify]]`: the notification channels of `barter.toml`, checked at load; their secrets come
//! from the environment (`BARTER_NOTIFY_<NAME>_SECRET`), never from the file. Sending them is
//! [`crate::notify`]'s; this module is only the settings, so the config depends on nothing else.

use std::collections::BTreeSet;

use barter_core::notify::{EventKind, Severity};
use serde::{Deserialize, Serialize};

/// The longest channel name.
pub const MAX_NAME_CHARS: usize = 32;
/// The most channels a config may list.
pub const MAX_CHANNELS: usize = 20;
/// The most e-mail recipients of one channel.
pub const MAX_RECIPIENTS: usize = 20;
/// The longest URL, address or chat id accepted.
pub const MAX_FIELD_CHARS: usize = 500;
/// The longest per-request timeout, in seconds.
pub const MAX_TIMEOUT_SECS: u64 = 60;

/// Which service a channel talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A JSON POST of the versioned event ([`barter_core::notify::WebhookBody`]), optionally
    /// signed with HMAC-SHA256.
    Webhook,
    /// Telegram's Bot API `sendMessage`.
    Telegram,
    /// A Slack incoming webhook.
    Slack,
    /// A Discord webhook.
    Discord,
    /// E-mail over SMTP.
    Email,
    /// An ntfy topic (plain HTTP POST).
    Ntfy,
}

impl ChannelKind {
    /// The name used in config and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Telegram => "telegram",
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Email => "email",
            Self::Ntfy => "ntfy",
        }
    }

    /// What the channel's secret (`BARTER_NOTIFY_<NAME>_SECRET`) is, and whether it is needed.
    pub fn secret(self) -> (&'static str, bool) {
        match self {
            Self::Webhook => ("the HMAC-SHA256 signing key (optional)", false),
            Self::Telegram => ("the bot token", true),
            Self::Slack | Self::Discord => ("the webhook URL (it carries the token)", true),
            Self::Email => ("the SMTP password (optional)", false),
            Self::Ntfy => ("an access token (optional)", false),
        }
    }
}

/// How an e-mail channel secures its SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required, port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on this machine (localhost), e.g. a test server.
    None,
}

/// One `[[notify]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// The channel's name (letters, digits, `-`, `_`), used in `barter notify --channel`, the
    /// deliveries and the secret's variable name.
    pub name: String,
    /// Which service it talks to.
    pub kind: ChannelKind,
    /// The events it wants (default: every event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventKind>>,
    /// The least severe event it wants (default `info`: everything).
    #[serde(default = "default_severity")]
    pub min_severity: Severity,
    /// Webhook: the URL to POST to; ntfy: the topic URL (`https://ntfy.sh/my-topic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Telegram: the Bot API's address (default `https://api.telegram.org`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Telegram: the chat to write to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
    /// E-mail: the SMTP server's host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_host: Option<String>,
    /// E-mail: the SMTP port (default 587 for STARTTLS, 465 for TLS, 25 for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    /// E-mail: how the connection is secured.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// E-mail: the SMTP user name (the password is the channel's secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// E-mail: the sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// E-mail: the recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// Longest wait for one answer, in seconds (default 10).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_severity() -> Severity {
    Severity::Info
}

fn default_timeout() -> u64 {
    10
}

impl ChannelConfig {
    /// The environment variable holding this channel's secret.
    pub fn secret_var(&self) -> String {
        secret_var(&self.name)
    }

    /// Whether the channel wants a notification of `kind` and `severity` (a test message goes
    /// to every channel it is sent to).
    pub fn wants(&self, kind: EventKind, severity: Severity) -> bool {
        kind == EventKind::Test
            || (severity >= self.min_severity
                && self
                    .events
                    .as_ref()
                    .is_none_or(|events| events.contains(&kind)))
    }

    /// The problems with this entry, in words naming the field.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let name = &self.name;
        let required = |field: &str, value: &Option<String>, problems: &mut Vec<String>| {
            if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                problems.push(format!(
                    "[[notify]] `{name}` ({}) needs `{field}`",
                    self.kind.as_str()
                ));
            }
        };
        for (field, value) in [
            ("url", &self.url),
            ("base_url", &self.base_url),
            ("chat_id", &self.chat_id),
            ("smtp_host", &self.smtp_host),
            ("username", &self.username),
            ("from", &self.from),
        ] {
            if value
                .as_ref()
                .is_some_and(|v| v.chars().count() > MAX_FIELD_CHARS)
            {
                problems.push(format!(
                    "[[notify]] `{name}`: `{field}` is longer than {MAX_FIELD_CHARS} characters"
                ));
            }
        }
        if self.timeout_secs == 0 || self.timeout_secs > MAX_TIMEOUT_SECS {
            problems.push(format!(
                "[[notify]] `{name}`: timeout_secs must be 1 to {MAX_TIMEOUT_SECS}"
            ));
        }
        let url_ok = |field: &str, url: &Option<String>, problems: &mut Vec<String>| {
            if let Some(Err(why)) = url.as_deref().map(check_url) {
                problems.push(format!("[[notify]] `{name}`: `{field}` {why}"));
            }
        };
        match self.kind {
            ChannelKind::Webhook | ChannelKind::Ntfy => {
                required("url", &self.url, &mut problems);
                url_ok("url", &self.url, &mut problems);
            }
            ChannelKind::Telegram => {
                required("chat_id", &self.chat_id, &mut problems);
                url_ok("base_url", &self.base_url, &mut problems);
            }
            ChannelKind::Slack | ChannelKind::Discord => {
                if self.url.is_some() {
                    problems.push(format!(
                        "[[notify]] `{name}`: a {} webhook URL carries its token, so it is a \
                         secret: remove `url` and set {} instead",
                        self.kind.as_str(),
                        self.secret_var()
                    ));
                }
            }
            ChannelKind::Email => {
                required("smtp_host", &self.smtp_host, &mut problems);
                required("from", &self.from, &mut problems);
                if self.to.is_empty() || self.to.len() > MAX_RECIPIENTS {
                    problems.push(format!(
                        "[[notify]] `{name}`: `to` needs 1 to {MAX_RECIPIENTS} addresses"
                    ));
                }
                let addresses = self.from.iter().chain(&self.to);
                for address in addresses {
                    if address.parse::<lettre::Address>().is_err() {
                        problems.push(format!(
                            "[[notify]] `{name}`: `{}` is not an e-mail address",
                            shown(address)
                        ));
                    }
                }
                if self.security == SmtpSecurity::None
                    && self
                        .smtp_host
                        .as_deref()
                        .is_some_and(|host| !is_loopback(host))
                {
                    problems.push(format!(
                        "[[notify]] `{name}`: security = \"none\" sends the password and the \
                         messages in clear text, so it is only allowed to a relay on this \
                         machine (localhost); use \"starttls\" or \"tls\""
                    ));
                }
            }
        }
        problems
    }
}

/// The environment variable holding channel `name`'s secret.
pub fn secret_var(name: &str) -> String {
    format!(
        "BARTER_NOTIFY_{}_SECRET",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

/// Whether `host` is this machine.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `url` is an http(s) URL; plain http only to this machine (a message may carry
/// trades and amounts).
fn check_url(url: &str) -> Result<(), String> {
    let parsed = barter_http::Url::parse(url).map_err(|e| format!("is not a URL ({e})"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if parsed.host_str().is_some_and(is_loopback) => Ok(()),
        "http" => Err("must use https (plain http only to localhost)".to_owned()),
        other => Err(format!("must be an https URL, not {}", shown(other))),
    }
}

/// At most 60 characters of untrusted `text`, escaped.
fn shown(text: &str) -> String {
    let head: String = text.chars().take(60).collect();
    head.escape_debug().to_string()
}

/// Checks every `[[notify]]` entry: names valid and unique, the fields each kind needs, URLs,
/// addresses, bounds. Returns every problem found.
pub fn check(channels: &[ChannelConfig]) -> Vec<String> {
    let mut problems = Vec::new();
    if channels.len() > MAX_CHANNELS {
        problems.push(format!(
            "[[notify]] lists {} channels; at most {MAX_CHANNELS} are allowed",
            channels.len()
        ));
        return problems;
    }
    let mut names = BTreeSet::new();
    for channel in channels {
        let name = &channel.name;
        let valid = !name.is_empty()
            && name.chars().count() <= MAX_NAME_CHARS
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            problems.push(format!(
                "[[notify]] name `{}` must be 1 to {MAX_NAME_CHARS} letters, digits, `-` or `_`",
                shown(name)
            ));
            continue;
        }
        if !names.insert(name.to_ascii_lowercase()) {
            problems.push(format!("[[notify]] name `{name}` is used twice"));
        }
        problems.extend(channel.problems());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(kind: ChannelKind) -> ChannelConfig {
        ChannelConfig {
            name: "ops".into(),
            kind,
            events: None,
            min_severity: Severity::Info,
            url: None,
            base_url: None,
            chat_id: None,
            smtp_host: None,
            smtp_port: None,
            security: SmtpSecurity::Starttls,
            username: None,
            from: None,
            to: Vec::new(),
            timeout_secs: 10,
        }
    }

    #[test]
    fn each_kind_names_the_fields_it_needs() {
        let problems = check(&[channel(ChannelKind::Webhook)]);
        assert!(
            problems.iter().any(|p| p.contains("needs `url`")),
            "{problems:?}"
        );
        let problems = check(&[channel(ChannelKind::Telegram)]);
        assert!(
            problems.iter().any(|p| p.contains("`chat_id`")),
            "{problems:?}"
        );
        let mut email = channel(ChannelKind::Email);
        email.smtp_host = Some("smtp.example.com".into());
        email.from = Some("barter@example.com".into());
        email.to = vec!["not an address".into()];
        email.security = SmtpSecurity::None;
        let problems = check(&[email]);
        assert!(
            problems.iter().any(|p| p.contains("not an e-mail address")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("clear text")),
            "{problems:?}"
        );
        let mut slack = channel(ChannelKind::Slack);
        slack.url = Some("https://hooks.slack.com/services/T/B/X".into());
        let problems = check(&[slack]);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("BARTER_NOTIFY_OPS_SECRET")),
            "{problems:?}"
        );
    }

    #[test]
    fn names_urls_and_counts_are_bounded() {
        let mut bad = channel(ChannelKind::Webhook);
        bad.name = "x".repeat(10_000);
        let problems = check(&[bad]);
        assert!(problems[0].len() < 300, "{problems:?}");
        let mut plain = channel(ChannelKind::Webhook);
        plain.url = Some("http://example.com/hook".into());
        assert!(check(&[plain.clone()])[0].contains("https"));
        plain.url = Some("http://127.0.0.1:9/hook".into());
        assert!(
            check(&[plain.clone(), plain.clone()])
                .iter()
                .any(|p| p.contains("used twice"))
        );
        let many = vec![plain; MAX_CHANNELS + 1];
        assert!(check(&many)[0].contains("at most"));
    }

    #[test]
    fn a_channel_wants_its_events_above_its_severity() {
        let mut c = channel(ChannelKind::Ntfy);
        c.events = Some(vec![EventKind::RunFailed, EventKind::PositionOpened]);
        c.min_severity = Severity::Warning;
        assert!(c.wants(EventKind::RunFailed, Severity::Critical));
        assert!(!c.wants(EventKind::PositionOpened, Severity::Info));
        assert!(!c.wants(EventKind::Drift, Severity::Critical));
        assert!(c.wants(EventKind::Test, Severity::Info));
    }
}
