//! Container signatures: the SAS-like query of `_links.mesh`, made and checked.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// The storage service version a link claims, as Azure's `sv`.
pub(crate) const SIGNED_VERSION: &str = "2024-11-04";

fn signature(state: &AppState, export_id: &str, permissions: &str, expiry: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(state.sas_key);
    for part in [export_id, permissions, expiry] {
        hasher.update(b"\n");
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The signed container URL of an export's tiles, valid for the configured SAS lifetime.
pub(crate) fn mesh_href(state: &AppState, origin: &str, export_id: &str) -> String {
    let ttl = chrono::Duration::from_std(state.config.sas_ttl).unwrap_or(chrono::TimeDelta::MAX);
    let expiry = Utc::now()
        .checked_add_signed(ttl)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let permissions = state.config.sas_permissions.as_str();
    let sig = signature(state, export_id, permissions, &expiry);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sv", SIGNED_VERSION)
        .append_pair("sr", "c")
        .append_pair("sp", permissions)
        .append_pair("se", &expiry)
        .append_pair("sig", &sig)
        .finish();
    format!("{origin}/blobs/{export_id}?{query}")
}

/// Checks the signed query and returns the permissions it grants; otherwise the reason it is
/// refused (never echoing the signature).
pub(crate) fn check_signature(
    state: &AppState,
    export_id: &str,
    raw_query: &str,
) -> Result<String, String> {
    let mut expiry = None;
    let mut sig = None;
    let mut permissions = None;
    for (name, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        match name.as_ref() {
            "se" => expiry = Some(value.into_owned()),
            "sig" => sig = Some(value.into_owned()),
            "sp" => permissions = Some(value.into_owned()),
            _ => {}
        }
    }
    let (Some(expiry), Some(sig), Some(permissions)) = (expiry, sig, permissions) else {
        return Err("The signed query (sp, se, sig) is missing.".to_owned());
    };
    let expected = signature(state, export_id, &permissions, &expiry);
    let same = expected.len() == sig.len()
        && expected
            .bytes()
            .zip(sig.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err("Signature did not match.".to_owned());
    }
    let expires_at = DateTime::parse_from_rfc3339(&expiry)
        .map_err(|_| "Signed expiry time is malformed.".to_owned())?;
    if expires_at <= Utc::now() {
        return Err(format!(
            "Signed expiry time [{}] must be after the current time.",
            expires_at.with_timezone(&Utc).to_rfc2822()
        ));
    }
    Ok(permissions)
}
