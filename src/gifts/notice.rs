//! The email that tells a recipient of their gift, at once or on the day the buyer chose.

use crate::email::EmailMessage;

/// The outbox kind of a gift's notice: one per order line (`gift_notice_2`), so it is sent once.
pub const NOTICE_KIND_PREFIX: &str = "gift_notice_";

/// What the notice and the gift card say.
#[derive(Clone, Debug)]
pub struct GiftWords<'a> {
    pub recipient_name: &'a str,
    pub from_name: &'a str,
    /// "International Socialist Review, print edition, 1 year".
    pub title: &'a str,
    pub first_issue: String,
    pub last_issue: String,
    pub message: Option<&'a str>,
    pub digital: bool,
    /// Where a digital recipient signs in (with the email the gift was sent to).
    pub sign_in_url: Option<String>,
    pub shop_name: &'a str,
}

pub fn gift_notice(words: &GiftWords<'_>) -> EmailMessage {
    let mut body = format!(
        "Dear {},\n\n{} has given you a gift: {}, from the {} issue to the {} issue.\n",
        words.recipient_name, words.from_name, words.title, words.first_issue, words.last_issue
    );
    if let Some(message) = words.message {
        body.push_str(&format!("\nTheir message:\n\n{}\n", indent(message)));
    }
    if words.digital {
        let sign_in = words.sign_in_url.clone().unwrap_or_else(|| "our website".to_string());
        body.push_str(&format!(
            "\nEach issue is a PDF to download from its page in the archive. Sign in at {sign_in} with this email \
             address: we email you a link, no password needed.\n"
        ));
    } else {
        body.push_str("\nThe copies come by post to the address they gave us.\n");
    }
    body.push_str(&format!(
        "\nThe subscription is paid for in full: nothing renews by itself, and nobody will ask you to pay.\n\n{}\n",
        words.shop_name
    ));
    EmailMessage { subject: format!("{} has given you {}", words.from_name, words.title), body }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}
