//! Reading the service's timestamps, which the spec types as plain strings.
//!
//! The portal types `Export.lastModified` `String`, and the values seen vary: `…43Z`,
//! `…43.1234567+00:00` (seven fraction digits, .NET style), and items without one at all. The
//! generated types keep the text as sent, so one odd value never fails a page of exports; these
//! helpers turn it into a time when they can, and into `None` when they cannot.

use chrono::{DateTime, NaiveDateTime, Utc};

use mesh_export_client::types::{Export, ExportRequest};

/// Parses a service timestamp leniently: RFC 3339 with any number of fraction digits (the
/// service sends up to seven) and `Z` or an offset such as `+00:00`; a space or a lower-case
/// `t` as the separator; and, for a time without an offset, UTC (how .NET prints a time of
/// unspecified kind). Anything else is `None`, never an error.
///
/// ```
/// use mesh_export::timestamp::parse;
///
/// let t = parse("2024-08-22T03:18:43.1234567+00:00").unwrap();
/// assert_eq!(t.to_rfc3339(), "2024-08-22T03:18:43.123456700+00:00");
/// assert_eq!(parse("2024-08-22T05:18:43+02:00"), parse("2024-08-22T03:18:43Z"));
/// assert!(parse("yesterday").is_none());
/// ```
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}

/// The parsed `lastModified` of an export or of the request it echoes.
pub trait LastModified {
    /// `lastModified` as a time; `None` when it is absent or cannot be read (see [`parse`]).
    fn last_modified_at(&self) -> Option<DateTime<Utc>>;
}

impl LastModified for Export {
    fn last_modified_at(&self) -> Option<DateTime<Utc>> {
        self.last_modified.as_deref().and_then(parse)
    }
}

impl LastModified for ExportRequest {
    fn last_modified_at(&self) -> Option<DateTime<Utc>> {
        self.last_modified.as_deref().and_then(parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Option<String> {
        parse(text).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
    }

    #[test]
    fn reads_the_forms_the_service_sends() {
        assert_eq!(
            utc("2024-08-22T03:18:43Z").as_deref(),
            Some("2024-08-22T03:18:43.000000000Z")
        );
        assert_eq!(
            utc("2024-08-22T03:18:43.1234567+00:00").as_deref(),
            Some("2024-08-22T03:18:43.123456700Z")
        );
        assert_eq!(
            utc("2024-08-22T03:18:43.1Z").as_deref(),
            Some("2024-08-22T03:18:43.100000000Z")
        );
        assert_eq!(
            utc(" 2024-08-22t05:18:43.5+02:00 ").as_deref(),
            Some("2024-08-22T03:18:43.500000000Z")
        );
    }

    #[test]
    fn a_time_without_an_offset_is_utc() {
        assert_eq!(
            utc("2024-08-22T03:18:43.1234567").as_deref(),
            Some("2024-08-22T03:18:43.123456700Z")
        );
        assert_eq!(
            utc("2024-08-22 03:18:43").as_deref(),
            Some("2024-08-22T03:18:43.000000000Z")
        );
    }

    #[test]
    fn what_is_not_a_time_is_none() {
        for text in [
            "",
            "yesterday",
            "2024-08-22",
            "2024-13-22T03:18:43Z",
            "2024-08-22T03:18:43+25:00",
            "1724296723",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn exports_order_by_the_parsed_time_not_the_text() {
        let export = |t: Option<&str>| Export {
            id: "e".into(),
            display_name: "d".into(),
            status: mesh_export_client::types::ExportStatus::Complete,
            last_modified: t.map(str::to_owned),
            request: None,
            error: None,
            stats: None,
            links: None,
        };
        // As text, "…05:00:00+02:00" sorts after "…04:00:00Z"; as a time it is earlier.
        let earlier = export(Some("2024-08-22T05:00:00+02:00"));
        let later = export(Some("2024-08-22T04:00:00Z"));
        assert!(earlier.last_modified_at() < later.last_modified_at());
        assert!(export(Some("garbage")).last_modified_at().is_none());
        assert!(export(None).last_modified_at() < earlier.last_modified_at());
    }
}
