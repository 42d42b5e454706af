//! A person at the emulator's login form: what a browser does, over plain HTTP.

use mesh_export_emulator::{DEMO_PASSWORD, DEMO_USER};

use crate::emulator::{form, http};

/// The `(name, value)` of every `<input type="hidden">` of an HTML page, unescaped.
pub fn hidden_fields(page: &str) -> Vec<(String, String)> {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = start + tag[start..].find('"')?;
        Some(unescape(&tag[start..end]))
    };
    page.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            if !tag.contains(r#"type="hidden""#) {
                return None;
            }
            Some((attribute(tag, "name")?, attribute(tag, "value")?))
        })
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Opens `authorize_url`, fills the form as the demo user and submits it, following the
/// redirect to the app's loopback listener. Returns the status and text of the last answer
/// (the app's page).
pub async fn sign_in_as_demo_user(authorize_url: &str) -> (u16, String) {
    sign_in_as(authorize_url, DEMO_USER, DEMO_PASSWORD).await
}

/// [`sign_in_as_demo_user`] with another user name and password.
pub async fn sign_in_as(authorize_url: &str, username: &str, password: &str) -> (u16, String) {
    let page = http()
        .get(authorize_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut fields = hidden_fields(&page);
    assert!(!fields.is_empty(), "no login form: {page}");
    fields.push(("username".into(), username.into()));
    fields.push(("password".into(), password.into()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let action = url::Url::parse(authorize_url)
        .unwrap()
        .join("/connect/authorize")
        .unwrap();
    let response = http()
        .post(action)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&pairs))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}
