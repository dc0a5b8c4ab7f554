//! Every setting of the shop, read from the environment once at start-up.

use std::{env, net::SocketAddr, path::PathBuf, time::Duration};

use crate::{client_address::TrustedProxies, money::Currency};

use anyhow::{bail, Context};

#[derive(Clone, Debug)]
pub struct Config {
    /// `sqlite://…` (the embedded default) or `postgres://…`.
    pub database_url: String,
    pub addr: SocketAddr,
    /// The shop's public address, used in links that leave the page (feeds, emails, payment return URLs).
    pub base_url: String,
    /// Where the SQLite database and uploaded files live.
    pub data_dir: PathBuf,
    /// The folder holding `templates/` and `static/`; a publisher may point it at a copy to restyle the shop.
    pub site_dir: PathBuf,
    /// The currency every price of the shop is in (fixed when the database is first prepared).
    pub currency: Currency,
    /// The shop's name in page titles and the header.
    pub shop_name: String,
    /// Stripe's secret API key; without one the shop sells in local test mode.
    pub stripe_secret_key: Option<Secret>,
    /// The signing secret of the webhook endpoint (`whsec_…`); required with a secret key.
    pub stripe_webhook_secret: Option<Secret>,
    /// Where Stripe's API is (tests point it at a fake server).
    pub stripe_api_base: Option<String>,
    /// `smtp://…` or `smtps://user:password@host`; without one, email is written as .eml files.
    pub smtp_url: Option<Secret>,
    /// The sender of the shop's email.
    pub email_from: String,
    /// How long a request waits for a database connection before it is answered 503.
    pub db_acquire_timeout: Duration,
    /// Networks whose `X-Forwarded-For` / `Forwarded` headers are believed (a load balancer's).
    pub trusted_proxies: TrustedProxies,
    /// Keep rendered public pages for visitors without a session (`MASTHEAD_PAGE_CACHE=off` turns
    /// it off); see `http::page_cache`.
    pub page_cache: bool,
    /// The shop's own country (ISO 3166 two letters): first in every country list.
    pub home_country: String,
    /// The largest donation taken with an order (`MASTHEAD_MAX_DONATION`, major units, default 1000).
    pub max_donation: crate::money::Money,
    /// `/metrics` answers only with `Authorization: Bearer <token>`; unset, it is off (404).
    pub metrics_token: Option<Secret>,
    /// Where uploads live (`MASTHEAD_MEDIA_URL`): the data folder, or S3-compatible storage.
    pub media: MediaLocation,
}

/// Where uploaded covers and PDFs are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaLocation {
    /// `media/` in the data folder (the default): fine for one instance.
    DataDir,
    /// A bucket of S3-compatible object storage, under a prefix: any instance serves any upload.
    S3(S3Location),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Keys are stored under this folder of the bucket ("" for its top).
    pub prefix: String,
    /// Settings given here win over the usual `AWS_*` variables (tests use them; a deployment
    /// normally sets only the variables).
    pub settings: S3Settings,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
}

impl MediaLocation {
    /// `s3://bucket/prefix`, or nothing (or `file:`) for the data folder.
    pub fn parse(url: Option<&str>) -> anyhow::Result<MediaLocation> {
        let url = url.map(str::trim).unwrap_or("");
        if url.is_empty() || url == "file:" {
            return Ok(MediaLocation::DataDir);
        }
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            anyhow::anyhow!(
                "MASTHEAD_MEDIA_URL must be s3://bucket/prefix (or unset, for the data folder), not {url:?}"
            )
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            bail!(
                "MASTHEAD_MEDIA_URL: {bucket:?} is not a bucket name (3 to 63 lowercase letters, digits, '-' and '.')"
            );
        }
        let prefix = prefix.trim_matches('/');
        let part_ok = |p: &str| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if !prefix.is_empty() && !prefix.split('/').all(part_ok) {
            bail!("MASTHEAD_MEDIA_URL: the prefix {prefix:?} may hold only letters, digits, '-', '_', '.' and '/'");
        }
        Ok(MediaLocation::S3(S3Location {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            settings: S3Settings::default(),
        }))
    }
}

impl std::fmt::Display for MediaLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaLocation::DataDir => f.write_str("data folder"),
            MediaLocation::S3(s3) if s3.prefix.is_empty() => write!(f, "s3://{}", s3.bucket),
            MediaLocation::S3(s3) => write!(f, "s3://{}/{}", s3.bucket, s3.prefix),
        }
    }
}

/// A setting that must never be logged.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.0 == other.0
    }
}

impl Eq for Secret {}

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Config {
    pub fn from_env() -> anyhow::Result<Config> {
        let var = |name: &str| env::var(name).ok().filter(|v| !v.trim().is_empty());

        let addr: SocketAddr = var("MASTHEAD_ADDR")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .context("MASTHEAD_ADDR must be an address such as 127.0.0.1:3000")?;
        let data_dir = PathBuf::from(var("MASTHEAD_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = var("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("masthead.db").display()));
        let base_url = var("MASTHEAD_BASE_URL").unwrap_or_else(|| format!("http://{addr}"));
        let site_dir =
            var("MASTHEAD_SITE_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let currency_text = var("MASTHEAD_CURRENCY").unwrap_or_else(|| "USD".into());
        let currency = Currency::parse(&currency_text).with_context(|| {
            format!("MASTHEAD_CURRENCY {currency_text:?} is not a currency the shop knows (USD, EUR, GBP, CAD, AUD)")
        })?;
        let db_acquire_timeout = match var("MASTHEAD_DB_TIMEOUT_MS") {
            None => Duration::from_millis(2000),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(ms @ 100..=60_000) => Duration::from_millis(ms),
                _ => bail!("MASTHEAD_DB_TIMEOUT_MS must be a number of milliseconds from 100 to 60000"),
            },
        };
        let trusted_proxies =
            TrustedProxies::parse(var("MASTHEAD_TRUSTED_PROXIES").as_deref().unwrap_or("")).map_err(|why| {
                anyhow::anyhow!("MASTHEAD_TRUSTED_PROXIES must be a comma-separated list of networks such as 10.0.0.0/8, 127.0.0.1: {why}")
            })?;
        let max_donation = match var("MASTHEAD_MAX_DONATION") {
            None => crate::money::Money::new(100_000, currency),
            Some(text) => match crate::money::Money::parse(&text, currency) {
                Ok(amount) if amount.amount >= crate::cart::MINIMUM_DONATION => amount,
                _ => bail!("MASTHEAD_MAX_DONATION must be an amount of at least 1, such as 1000"),
            },
        };
        // Read by `app::init_tracing` before the configuration; checked here so a typo is refused.
        if let Some(format) = var("MASTHEAD_LOG_FORMAT") {
            if !["text", "json"].contains(&format.trim().to_ascii_lowercase().as_str()) {
                bail!("MASTHEAD_LOG_FORMAT must be text or json");
            }
        }
        let shop_name = var("MASTHEAD_SHOP_NAME").unwrap_or_else(|| "Socialist Worker Subscriptions".into());

        let config = Config {
            database_url,
            addr,
            base_url,
            data_dir,
            site_dir,
            currency,
            shop_name,
            stripe_secret_key: var("STRIPE_SECRET_KEY").map(Secret),
            stripe_webhook_secret: var("STRIPE_WEBHOOK_SECRET").map(Secret),
            stripe_api_base: var("STRIPE_API_BASE"),
            smtp_url: var("SMTP_URL").map(Secret),
            email_from: var("MASTHEAD_EMAIL_FROM")
                .unwrap_or_else(|| "Socialist Worker Subscriptions <subscriptions@localhost>".into()),
            db_acquire_timeout,
            trusted_proxies,
            page_cache: match var("MASTHEAD_PAGE_CACHE").as_deref() {
                None | Some("on") => true,
                Some("off") => false,
                Some(_) => bail!("MASTHEAD_PAGE_CACHE must be on or off"),
            },
            max_donation,
            metrics_token: var("MASTHEAD_METRICS_TOKEN").map(Secret),
            home_country: var("MASTHEAD_COUNTRY").unwrap_or_else(|| "US".into()).trim().to_ascii_uppercase(),
            media: MediaLocation::parse(var("MASTHEAD_MEDIA_URL").as_deref())?,
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            bail!("DATABASE_URL must start with sqlite: or postgres://");
        }
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            bail!("MASTHEAD_BASE_URL must start with http:// or https://");
        }
        if self.stripe_secret_key.is_some() && self.stripe_webhook_secret.is_none() {
            bail!("STRIPE_WEBHOOK_SECRET must be set with STRIPE_SECRET_KEY, or paid orders would never be fulfilled");
        }
        if self.email_from.parse::<lettre::message::Mailbox>().is_err() {
            bail!("MASTHEAD_EMAIL_FROM {:?} is not an email address", self.email_from);
        }
        if !crate::postage::is_country_code(&self.home_country) {
            bail!("MASTHEAD_COUNTRY {:?} is not a two-letter ISO 3166 country code such as US", self.home_country);
        }
        if !self.site_dir.join("templates").is_dir() {
            bail!("MASTHEAD_SITE_DIR {} has no templates/ folder", self.site_dir.display());
        }
        Ok(())
    }

    /// The base URL without a trailing slash, ready to have a path appended.
    pub fn base(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    /// With no Stripe key the shop sells in local test mode; it can never be on with a key.
    pub fn test_mode(&self) -> bool {
        self.stripe_secret_key.is_none()
    }

    /// Where email goes when there is no SMTP server.
    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    /// The settings as they may be logged: the database password is hidden.
    pub fn describe(&self) -> String {
        format!(
            "addr={} base_url={} database={} data_dir={} site_dir={} currency={} payments={} email={} db_timeout={}ms trusted_proxies={} page_cache={} media={}",
            self.addr,
            self.base_url,
            redact_password(&self.database_url),
            self.data_dir.display(),
            self.site_dir.display(),
            self.currency.code(),
            if self.test_mode() { "local test mode" } else { "Stripe" },
            if self.smtp_url.is_some() { "SMTP" } else { "files" },
            self.db_acquire_timeout.as_millis(),
            self.trusted_proxies,
            if self.page_cache { "on" } else { "off" },
            self.media,
        )
    }
}

pub fn redact_password(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &userinfo[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::MediaLocation;

    #[test]
    fn media_urls_are_checked() {
        assert_eq!(MediaLocation::parse(None).unwrap(), MediaLocation::DataDir);
        assert_eq!(MediaLocation::parse(Some("")).unwrap(), MediaLocation::DataDir);
        let MediaLocation::S3(s3) = MediaLocation::parse(Some("s3://shop-media/masthead/prod/")).unwrap() else {
            panic!("an S3 location")
        };
        assert_eq!((s3.bucket.as_str(), s3.prefix.as_str()), ("shop-media", "masthead/prod"));
        assert_eq!(MediaLocation::parse(Some("s3://shop-media")).unwrap().to_string(), "s3://shop-media");
        for bad in ["/var/media", "s3://", "s3://A_B", "s3://ok-bucket/../x", "s3://ok-bucket/a//b", "gs://b/p"] {
            assert!(MediaLocation::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_not_logged() {
        assert_eq!(
            super::redact_password("postgres://shop:secret@db:5432/masthead"),
            "postgres://shop:***@db:5432/masthead"
        );
        assert_eq!(super::redact_password("sqlite://data/masthead.db"), "sqlite://data/masthead.db");
    }
}
