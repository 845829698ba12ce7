//! Configuration, in layers: built-in defaults, then a TOML file (`--config`),
//! then `OFFICEHOURS_*` environment variables, then command-line flags (clap
//! merges the last two). Secrets may also come from `*_FILE` variables.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::storage::redact_url;

/// Everything `officehours serve` needs, resolved.
#[derive(Clone)]
pub struct Config {
    pub bind: SocketAddr,
    /// The host name people and other servers know this instance by.
    pub domain: String,
    /// Where links in pages and e-mails point, e.g. `https://hours.example.org`.
    pub public_url: url::Url,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub instance_name: String,
    pub demo: bool,
    pub log_format: LogFormat,
    pub max_db_connections: u32,
    /// How long a request waits for a database connection (the database
    /// down, restarting, or every connection busy) before it is answered
    /// 503, in seconds.
    pub database_timeout_secs: u64,
    /// The length of a one-to-one session; 10 minutes is the product's identity.
    pub session_minutes: i64,
    /// The session lengths an advisor may give an offering (minutes, each
    /// 5 to 60); `session_minutes` is always among them.
    pub session_lengths: Vec<i64>,
    /// Lets the server fetch calendars (busy-time feeds) from loopback and
    /// private addresses; for tests and local setups only.
    pub allow_private_fetches: bool,
    /// Signs derived secrets (calendar feed tokens). From `secret_key` or
    /// `OFFICEHOURS_SECRET_KEY(_FILE)`; when unset, `officehours serve`
    /// creates `DATA_DIR/secret.key` once and reuses it.
    pub secret_key: Option<String>,
    /// Default minutes before a session the reminder goes out (people can
    /// change theirs in settings).
    pub reminder_minutes: i64,
    /// How often background jobs (reminders, attendance, mail retries) look
    /// for work, in seconds.
    pub job_interval_secs: u64,
    /// Minutes after a session's start by which each participant must have
    /// been in its room, or the server records a no-show for them; 0 (the
    /// default while the room carries no audio yet) leaves no-shows to the
    /// participants.
    pub room_no_show_minutes: i64,
    /// Federation test mode: peers may use http, explicit ports and loopback
    /// addresses. Only for `*.test` and `*.localhost` domains.
    pub federation_test_mode: bool,
    /// The first retry delay of a failed federation delivery, in seconds
    /// (doubling each time, at most 8 hours); shortened in tests.
    pub federation_retry_base_secs: u64,
    /// How long one federation request (a delivery, a signed fetch) may
    /// take in all, in seconds; a peer that does not answer in time is
    /// retried later.
    pub federation_timeout_secs: u64,
    /// How many days ahead availability is published to followers (the
    /// rolling horizon; each occurrence is its own `Event`).
    pub federation_publish_days: u64,
    /// A remote instance whose deliveries fail for this long is marked dead
    /// (its deliveries wait, one try an hour, until it speaks again).
    pub federation_dead_after_secs: u64,
    /// How many unknown actors one remote host may make the inbox fetch per
    /// minute (more answer 429), so one sender cannot tie up the fetcher.
    pub federation_actor_fetches_per_minute: u32,
    /// The most upcoming (not yet started, not cancelled) slots one advisor
    /// may have; a block that would pass it is refused (`too_many_slots`).
    pub max_open_slots_per_advisor: u64,
    /// The most occurrences one weekly series may hold (`series_too_long`).
    pub max_series_occurrences: u64,
    /// In test mode: host names of peers and their addresses
    /// (`OFFICEHOURS_FEDERATION_TEST_HOSTS=alpha.test=127.0.0.2,…`).
    pub federation_test_hosts: Vec<(String, std::net::IpAddr)>,
    /// In test mode only (`OFFICEHOURS_TEST_CLOCK=manual`): the app runs on
    /// a manual clock that starts at the real time and moves only when the
    /// test asks (`POST /_test/clock`), instead of the system clock.
    pub test_clock: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or
    /// CIDR ranges); none by default, so the peer address counts.
    pub trusted_proxies: Vec<crate::domain::ip_range::IpRange>,
    /// `/readyz` answers 503 when the data folder's disk has less free.
    pub min_free_disk_mb: u64,
    /// The voice room's media: one UDP port for every participant.
    pub voice: crate::voice::VoiceConfig,
    /// TURN servers for people behind strict NATs (`turn:host:3478`, …),
    /// with coturn's shared secret for short-lived credentials.
    pub turn_urls: Vec<String>,
    pub turn_secret: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The TOML file's shape; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<SocketAddr>,
    pub domain: Option<String>,
    pub public_url: Option<String>,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub instance_name: Option<String>,
    pub demo: Option<bool>,
    pub log_format: Option<LogFormat>,
    pub max_db_connections: Option<u32>,
    pub database_timeout_secs: Option<u64>,
    pub session_minutes: Option<i64>,
    pub session_lengths: Option<Vec<i64>>,
    pub allow_private_fetches: Option<bool>,
    pub secret_key: Option<String>,
    pub reminder_minutes: Option<i64>,
    pub job_interval_secs: Option<u64>,
    pub room_no_show_minutes: Option<u64>,
    pub federation_retry_base_secs: Option<u64>,
    pub federation_publish_days: Option<u64>,
    pub federation_timeout_secs: Option<u64>,
    pub federation_dead_after_secs: Option<u64>,
    pub federation_actor_fetches_per_minute: Option<u32>,
    pub trusted_proxies: Option<Vec<String>>,
    pub min_free_disk_mb: Option<u64>,
    pub max_open_slots_per_advisor: Option<u64>,
    pub max_series_occurrences: Option<u64>,
    pub voice_udp_bind: Option<std::net::IpAddr>,
    pub voice_udp_port: Option<u16>,
    pub voice_public_ip: Option<std::net::IpAddr>,
    pub turn_urls: Option<Vec<String>>,
    pub turn_secret: Option<String>,
}

/// Values given on the command line or in the environment (clap reads both).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub bind: Option<SocketAddr>,
    pub domain: Option<String>,
    pub public_url: Option<String>,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub demo: bool,
    pub log_format: Option<LogFormat>,
    pub federation_test_mode: bool,
}

/// The earliest reminder anyone can ask for: a day before.
pub const MAX_REMINDER_MINUTES: i64 = 24 * 60;

/// A full day of 10-minute sessions (9 to 5, 48 of them) on every weekday
/// for about a month.
pub const DEFAULT_MAX_OPEN_SLOTS: u64 = 1000;

/// A weekly series on two weekdays for about two years, or on every day
/// for more than six months (the series also ends within 366 days).
pub const DEFAULT_MAX_SERIES_OCCURRENCES: u64 = 200;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", path.display()))
    }
}

/// Reads a secret from `NAME` or, failing that, from the file named by `NAME_FILE`.
/// `trusted_proxies`: addresses or CIDR ranges.
fn parse_ranges<'a>(list: impl Iterator<Item = &'a str>) -> anyhow::Result<Vec<crate::domain::ip_range::IpRange>> {
    list.map(|r| r.parse().map_err(|e: String| anyhow::anyhow!("trusted_proxies: {e}"))).collect()
}

pub fn secret_from_env(name: &str) -> anyhow::Result<Option<String>> {
    if let Ok(value) = std::env::var(name)
        && !value.is_empty()
    {
        return Ok(Some(value));
    }
    match std::env::var(format!("{name}_FILE")) {
        Ok(path) if !path.is_empty() => {
            let value =
                std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read {name}_FILE ({path}): {e}"))?;
            Ok(Some(value.trim().to_string()))
        }
        _ => Ok(None),
    }
}

impl Config {
    pub fn resolve(overrides: Overrides) -> anyhow::Result<Config> {
        let file = match &overrides.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let voice = voice_config(&file)?;
        let bind = overrides.bind.or(file.bind).unwrap_or_else(|| DEFAULT_BIND.parse().expect("valid default"));
        let domain = overrides.domain.or(file.domain).unwrap_or_else(|| "localhost".to_string());
        validate_domain(&domain)?;
        let data_dir = overrides.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("data"));
        let database_url = overrides
            .database_url
            .or(secret_from_env("OFFICEHOURS_DATABASE_URL")?)
            .or(file.database_url)
            .unwrap_or_else(|| default_database_url(&data_dir));
        crate::storage::Backend::from_url(&database_url)?;
        let public_url = match overrides.public_url.or(file.public_url) {
            Some(url) => url::Url::parse(&url).map_err(|e| anyhow::anyhow!("invalid public_url `{url}`: {e}"))?,
            None => default_public_url(&domain, bind),
        };
        let smtp_url = secret_from_env("OFFICEHOURS_SMTP_URL")?.or(file.smtp_url);
        let mail_from = std::env::var("OFFICEHOURS_MAIL_FROM")
            .ok()
            .or(file.mail_from)
            .unwrap_or_else(|| format!("Officehours <noreply@{}>", domain.split(':').next().unwrap_or(&domain)));
        let session_minutes = match file.session_minutes {
            None => 10,
            Some(m) if (5..=60).contains(&m) => m,
            Some(m) => anyhow::bail!("session_minutes must be between 5 and 60, not {m}"),
        };
        Ok(Config {
            bind,
            public_url,
            database_url,
            data_dir,
            smtp_url,
            mail_from,
            instance_name: std::env::var("OFFICEHOURS_INSTANCE_NAME")
                .ok()
                .or(file.instance_name)
                .unwrap_or_else(|| "Officehours".to_string()),
            demo: overrides.demo || file.demo.unwrap_or(false),
            log_format: overrides.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            max_db_connections: file.max_db_connections.unwrap_or(8),
            database_timeout_secs: env_number("OFFICEHOURS_DATABASE_TIMEOUT_SECS")?
                .or(file.database_timeout_secs)
                .unwrap_or(5)
                .clamp(1, 60),
            session_minutes,
            session_lengths: session_lengths(session_minutes, file.session_lengths.as_deref())?,
            allow_private_fetches: file.allow_private_fetches.unwrap_or(false),
            secret_key: secret_from_env("OFFICEHOURS_SECRET_KEY")?.or(file.secret_key),
            reminder_minutes: match file.reminder_minutes {
                None => 15,
                Some(m) if (0..=MAX_REMINDER_MINUTES).contains(&m) => m,
                Some(m) => anyhow::bail!("reminder_minutes must be between 0 and {MAX_REMINDER_MINUTES}, not {m}"),
            },
            job_interval_secs: env_number("OFFICEHOURS_JOB_INTERVAL_SECS")?
                .or(file.job_interval_secs)
                .unwrap_or(15)
                .clamp(1, 3600),
            room_no_show_minutes: match env_number("OFFICEHOURS_ROOM_NO_SHOW_MINUTES")?.or(file.room_no_show_minutes) {
                None => 0,
                Some(m) if m <= 60 => m as i64,
                Some(m) => anyhow::bail!("room_no_show_minutes must be between 0 (off) and 60, not {m}"),
            },
            federation_retry_base_secs: env_number("OFFICEHOURS_FEDERATION_RETRY_BASE_SECS")?
                .or(file.federation_retry_base_secs)
                .unwrap_or(60)
                .clamp(1, 3600),
            federation_timeout_secs: env_number("OFFICEHOURS_FEDERATION_TIMEOUT_SECS")?
                .or(file.federation_timeout_secs)
                .unwrap_or(10)
                .clamp(1, 60),
            federation_publish_days: env_number("OFFICEHOURS_FEDERATION_PUBLISH_DAYS")?
                .or(file.federation_publish_days)
                .unwrap_or(7)
                .clamp(1, 60),
            federation_dead_after_secs: env_number("OFFICEHOURS_FEDERATION_DEAD_AFTER_SECS")?
                .or(file.federation_dead_after_secs)
                .unwrap_or(24 * 3600)
                .clamp(1, 30 * 24 * 3600),
            federation_actor_fetches_per_minute: env_number("OFFICEHOURS_FEDERATION_ACTOR_FETCHES_PER_MINUTE")?
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                .or(file.federation_actor_fetches_per_minute)
                .unwrap_or(120)
                .clamp(1, 1_000_000),
            max_open_slots_per_advisor: env_number("OFFICEHOURS_MAX_OPEN_SLOTS_PER_ADVISOR")?
                .or(file.max_open_slots_per_advisor)
                .unwrap_or(DEFAULT_MAX_OPEN_SLOTS)
                .clamp(1, 100_000),
            max_series_occurrences: env_number("OFFICEHOURS_MAX_SERIES_OCCURRENCES")?
                .or(file.max_series_occurrences)
                .unwrap_or(DEFAULT_MAX_SERIES_OCCURRENCES)
                .clamp(1, 366),
            federation_test_mode: match overrides.federation_test_mode {
                true if is_test_domain(&domain) => true,
                true => anyhow::bail!(
                    "--federation-test-mode is for the federation test suite only: it needs a domain ending in \
                     .test or .localhost, not `{domain}`"
                ),
                false => false,
            },
            min_free_disk_mb: env_number("OFFICEHOURS_MIN_FREE_DISK_MB")?.or(file.min_free_disk_mb).unwrap_or(100),
            voice,
            turn_urls: match std::env::var("OFFICEHOURS_TURN_URLS") {
                Ok(list) if !list.trim().is_empty() => list.split(',').map(|u| u.trim().to_string()).collect(),
                _ => file.turn_urls.clone().unwrap_or_default(),
            },
            turn_secret: std::env::var("OFFICEHOURS_TURN_SECRET")
                .ok()
                .filter(|s| !s.is_empty())
                .or(file.turn_secret.clone()),
            trusted_proxies: match std::env::var("OFFICEHOURS_TRUSTED_PROXIES") {
                Ok(list) => parse_ranges(list.split(',').filter(|s| !s.trim().is_empty()))?,
                Err(_) => parse_ranges(file.trusted_proxies.iter().flatten().map(String::as_str))?,
            },
            test_clock: test_clock(
                std::env::var("OFFICEHOURS_TEST_CLOCK").ok().as_deref(),
                overrides.federation_test_mode,
            )?,
            federation_test_hosts: match std::env::var("OFFICEHOURS_FEDERATION_TEST_HOSTS") {
                Ok(list) if overrides.federation_test_mode => parse_test_hosts(&list)?,
                _ => Vec::new(),
            },
            domain,
        })
    }

    /// Cookies get `Secure` when people reach us over https.
    pub fn https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// An absolute link to a path on this instance.
    pub fn link(&self, path: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }

    /// Whether a URL is on this instance: its host (and port, when it
    /// names one) is our domain.
    pub fn is_own_url(&self, url: &url::Url) -> bool {
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => return false,
        };
        host.eq_ignore_ascii_case(&self.domain)
    }

    pub fn secret_key_file(&self) -> PathBuf {
        self.data_dir.join("secret.key")
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

fn validate_domain(domain: &str) -> anyhow::Result<()> {
    let ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':');
    if ok { Ok(()) } else { anyhow::bail!("invalid domain `{domain}`: use a host name such as hours.example.org") }
}

/// The media port's settings: `voice_udp_bind` (default `0.0.0.0`),
/// `voice_udp_port` (default 3479) and `voice_public_ip` (the address put in
/// the host candidate; default the bind address, or 127.0.0.1 when that is
/// unspecified), each overridden by `OFFICEHOURS_VOICE_UDP_BIND`,
/// `OFFICEHOURS_VOICE_UDP_PORT` and `OFFICEHOURS_VOICE_PUBLIC_IP`.
fn voice_config(file: &FileConfig) -> anyhow::Result<crate::voice::VoiceConfig> {
    let ip = |name: &str| -> anyhow::Result<Option<std::net::IpAddr>> {
        match std::env::var(name) {
            Ok(text) if !text.trim().is_empty() => {
                text.trim().parse().map(Some).map_err(|_| anyhow::anyhow!("{name} must be an IP address, not `{text}`"))
            }
            _ => Ok(None),
        }
    };
    let bind_ip = ip("OFFICEHOURS_VOICE_UDP_BIND")?.or(file.voice_udp_bind).unwrap_or(crate::voice::DEFAULT_BIND_IP);
    let port = match env_number("OFFICEHOURS_VOICE_UDP_PORT")? {
        Some(n) => {
            u16::try_from(n).map_err(|_| anyhow::anyhow!("OFFICEHOURS_VOICE_UDP_PORT must be a port, not {n}"))?
        }
        None => file.voice_udp_port.unwrap_or(crate::voice::DEFAULT_UDP_PORT),
    };
    let public_ip = ip("OFFICEHOURS_VOICE_PUBLIC_IP")?.or(file.voice_public_ip);
    Ok(crate::voice::VoiceConfig::new(SocketAddr::new(bind_ip, port), public_ip))
}

/// A whole number from the environment, if set.
/// The lengths offerings may have: the configured ones (each 5 to 60
/// minutes) and the instance's session length, sorted, once each.
fn session_lengths(session_minutes: i64, configured: Option<&[i64]>) -> anyhow::Result<Vec<i64>> {
    let mut lengths = vec![session_minutes];
    for &m in configured.unwrap_or_default() {
        if !(5..=60).contains(&m) {
            anyhow::bail!("session_lengths must each be between 5 and 60 minutes, not {m}");
        }
        lengths.push(m);
    }
    lengths.sort_unstable();
    lengths.dedup();
    Ok(lengths)
}

fn env_number(name: &str) -> anyhow::Result<Option<u64>> {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => {
            text.trim().parse().map(Some).map_err(|_| anyhow::anyhow!("{name} must be a whole number, not `{text}`"))
        }
        _ => Ok(None),
    }
}

/// `alpha.test=127.0.0.2,beta.test=127.0.0.3`.
fn parse_test_hosts(list: &str) -> anyhow::Result<Vec<(String, std::net::IpAddr)>> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (host, ip) = entry
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("OFFICEHOURS_FEDERATION_TEST_HOSTS: `{entry}` is not host=address"))?;
            let ip = ip.parse().map_err(|e| anyhow::anyhow!("OFFICEHOURS_FEDERATION_TEST_HOSTS: `{ip}`: {e}"))?;
            Ok((host.to_string(), ip))
        })
        .collect()
}

/// `OFFICEHOURS_TEST_CLOCK`: `manual` (only with `--federation-test-mode`)
/// or `system` (the default).
fn test_clock(value: Option<&str>, test_mode: bool) -> anyhow::Result<bool> {
    match value.map(str::trim) {
        None | Some("" | "system") => Ok(false),
        Some("manual") if test_mode => Ok(true),
        Some("manual") => anyhow::bail!(
            "OFFICEHOURS_TEST_CLOCK=manual is for the federation test suite only: it needs --federation-test-mode"
        ),
        Some(other) => anyhow::bail!("OFFICEHOURS_TEST_CLOCK must be `manual` or `system`, not `{other}`"),
    }
}

/// Test and local host names (`alpha.test`, `x.localhost`, with or without a port).
fn is_test_domain(domain: &str) -> bool {
    let host = domain.split(':').next().unwrap_or(domain);
    host.ends_with(".test") || host.ends_with(".localhost") || host == "localhost"
}

fn default_database_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("officehours.db").display())
}

/// Local and test host names are served over plain http on the bound port;
/// anything else is assumed to sit behind an https proxy.
fn default_public_url(domain: &str, bind: SocketAddr) -> url::Url {
    let host = domain.split(':').next().unwrap_or(domain);
    let local = host == "localhost" || host.ends_with(".localhost") || host.ends_with(".test");
    let text = if domain.contains(':') {
        format!("{}://{domain}/", if local { "http" } else { "https" })
    } else if local {
        format!("http://{domain}:{}/", bind.port())
    } else {
        format!("https://{domain}/")
    };
    url::Url::parse(&text).expect("a valid host gives a valid URL")
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("domain", &self.domain)
            .field("public_url", &self.public_url.as_str())
            .field("database_url", &redact_url(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_from", &self.mail_from)
            .field("instance_name", &self.instance_name)
            .field("demo", &self.demo)
            .field("voice", &self.voice)
            .field("turn_urls", &self.turn_urls)
            .field("turn_secret", &self.turn_secret.as_ref().map(|_| "…"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_urls_are_on_our_domain_and_port() {
        let config =
            Config::resolve(Overrides { domain: Some("alpha.test:8443".into()), ..Default::default() }).unwrap();
        let own = |u: &str| config.is_own_url(&u.parse().unwrap());
        assert!(own("http://alpha.test:8443/users/ada"));
        assert!(own("https://ALPHA.test:8443/inbox"));
        assert!(!own("http://alpha.test/users/ada"), "another port");
        assert!(!own("http://beta.test:8443/users/ada"));
    }

    #[test]
    fn session_lengths_always_hold_the_session_length() {
        assert_eq!(session_lengths(10, None).unwrap(), vec![10]);
        assert_eq!(session_lengths(10, Some(&[30, 10, 20])).unwrap(), vec![10, 20, 30]);
        assert_eq!(session_lengths(15, Some(&[30])).unwrap(), vec![15, 30]);
        assert!(session_lengths(10, Some(&[90])).is_err());
    }

    #[test]
    fn defaults_serve_localhost_on_sqlite() {
        let config = Config::resolve(Overrides::default()).unwrap();
        assert_eq!(config.bind.to_string(), DEFAULT_BIND);
        assert_eq!(config.public_url.as_str(), "http://localhost:8080/");
        assert!(config.database_url.starts_with("sqlite://data/officehours.db"));
        assert!(!config.https());
    }

    #[test]
    fn public_domains_default_to_https() {
        let overrides = Overrides { domain: Some("hours.example.org".into()), ..Default::default() };
        let config = Config::resolve(overrides).unwrap();
        assert_eq!(config.public_url.as_str(), "https://hours.example.org/");
        assert!(config.https());
        assert_eq!(config.link("/advisors"), "https://hours.example.org/advisors");
    }

    #[test]
    fn the_example_config_file_parses_and_flags_win() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/officehours.example.toml");
        let file = FileConfig::load(&example).unwrap();
        assert_eq!(file.domain.as_deref(), Some("hours.example.org"));
        let overrides =
            Overrides { config: Some(example), domain: Some("other.example.org".into()), ..Default::default() };
        let config = Config::resolve(overrides).unwrap();
        assert_eq!(config.domain, "other.example.org");
        assert_eq!(config.instance_name, "Example Office Hours");
    }

    #[test]
    fn unknown_keys_and_bad_urls_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "domian = \"typo.example\"\n").unwrap();
        let err = FileConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("domian"), "{err}");
        let overrides = Overrides { database_url: Some("mysql://x".into()), ..Default::default() };
        assert!(Config::resolve(overrides).is_err());
        let overrides = Overrides { domain: Some("bad domain".into()), ..Default::default() };
        assert!(Config::resolve(overrides).is_err());
    }

    #[test]
    fn federation_test_mode_needs_a_test_domain() {
        let test =
            |domain: &str| Overrides { domain: Some(domain.into()), federation_test_mode: true, ..Default::default() };
        assert!(Config::resolve(test("alpha.test")).unwrap().federation_test_mode);
        assert!(Config::resolve(test("beta.localhost:8443")).unwrap().federation_test_mode);
        let err = Config::resolve(test("hours.example.org")).unwrap_err().to_string();
        assert!(err.contains("federation test suite only"), "{err}");
        assert!(!Config::resolve(Overrides::default()).unwrap().federation_test_mode);
    }

    #[test]
    fn a_manual_clock_needs_test_mode() {
        assert!(!test_clock(None, false).unwrap());
        assert!(!test_clock(Some("system"), true).unwrap());
        assert!(test_clock(Some("manual"), true).unwrap());
        let err = test_clock(Some("manual"), false).unwrap_err().to_string();
        assert!(err.contains("federation-test-mode"), "{err}");
        assert!(test_clock(Some("frozen"), true).is_err());
    }

    #[test]
    fn availability_limits_come_from_the_file_within_bounds() {
        let config = Config::resolve(Overrides::default()).unwrap();
        assert_eq!(config.max_open_slots_per_advisor, DEFAULT_MAX_OPEN_SLOTS);
        assert_eq!(config.max_series_occurrences, DEFAULT_MAX_SERIES_OCCURRENCES);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "max_open_slots_per_advisor = 0\nmax_series_occurrences = 5000\n").unwrap();
        let config = Config::resolve(Overrides { config: Some(path), ..Default::default() }).unwrap();
        assert_eq!((config.max_open_slots_per_advisor, config.max_series_occurrences), (1, 366));
    }

    #[test]
    fn the_media_port_comes_from_the_file() {
        let config = Config::resolve(Overrides::default()).unwrap();
        assert_eq!(config.voice, crate::voice::VoiceConfig::default());
        assert_eq!(config.voice.bind.port(), crate::voice::DEFAULT_UDP_PORT);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "voice_udp_bind = \"192.0.2.10\"\nvoice_udp_port = 40000\nvoice_public_ip = \"203.0.113.5\"\n",
        )
        .unwrap();
        let config = Config::resolve(Overrides { config: Some(path.clone()), ..Default::default() }).unwrap();
        assert_eq!(config.voice.bind.to_string(), "192.0.2.10:40000");
        assert_eq!(config.voice.advertised_ip().to_string(), "203.0.113.5");
        std::fs::write(&path, "voice_udp_port = 70000\n").unwrap();
        assert!(Config::resolve(Overrides { config: Some(path), ..Default::default() }).is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let overrides = Overrides { database_url: Some("postgres://oh:hunter2@db/oh".into()), ..Default::default() };
        let config = Config::resolve(overrides).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
