//! Every setting of the shop, read from the environment once at start-up.

use std::{env, net::SocketAddr, path::PathBuf};

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
    /// The currency every price of the shop is in.
    pub currency: String,
    /// The shop's name in page titles and the header.
    pub shop_name: String,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Config> {
        let var = |name: &str| env::var(name).ok().filter(|v| !v.trim().is_empty());

        let addr: SocketAddr = var("MASTHEAD_ADDR")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .context("MASTHEAD_ADDR must be an address such as 127.0.0.1:3000")?;
        let data_dir = PathBuf::from(var("MASTHEAD_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = var("DATABASE_URL").unwrap_or_else(|| {
            format!("sqlite://{}?mode=rwc", data_dir.join("masthead.db").display())
        });
        let base_url = var("MASTHEAD_BASE_URL").unwrap_or_else(|| format!("http://{addr}"));
        let site_dir = var("MASTHEAD_SITE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let currency = var("MASTHEAD_CURRENCY").unwrap_or_else(|| "USD".into());
        let shop_name = var("MASTHEAD_SHOP_NAME").unwrap_or_else(|| "Socialist Worker Subscriptions".into());

        let config = Config { database_url, addr, base_url, data_dir, site_dir, currency, shop_name };
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
        if crate::money::Currency::parse(&self.currency).is_none() {
            bail!("MASTHEAD_CURRENCY {:?} is not a currency the shop knows (USD, EUR, GBP, CAD, AUD)", self.currency);
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

    /// The settings as they may be logged: the database password is hidden.
    pub fn describe(&self) -> String {
        format!(
            "addr={} base_url={} database={} data_dir={} site_dir={} currency={}",
            self.addr,
            self.base_url,
            redact_password(&self.database_url),
            self.data_dir.display(),
            self.site_dir.display(),
            self.currency
        )
    }
}

fn redact_password(url: &str) -> String {
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
    #[test]
    fn passwords_are_not_logged() {
        assert_eq!(
            super::redact_password("postgres://shop:secret@db:5432/masthead"),
            "postgres://shop:***@db:5432/masthead"
        );
        assert_eq!(super::redact_password("sqlite://data/masthead.db"), "sqlite://data/masthead.db");
    }
}
