//! The query of get-exports: its parameters, their checks, and the links that carry them.

use axum::response::Response;

use crate::errors;

const DEFAULT_TOP: u32 = 100;
const MAX_TOP: u32 = 1000;
pub(crate) const EXPORT_TYPES: [&str; 5] = ["3DFT", "CESIUM", "IMODEL", "3DTiles", "3DTILES"];

/// The major tile format version of every export the emulator makes. `tileVersion=N` keeps
/// the exports "compatible with" a reader of major version N, those of a version up to N,
/// as iTwin.js reads it (its `maximumMajorTileFormatVersion`).
pub(crate) const TILE_FORMAT_MAJOR: u32 = 36;

/// The oldest iTwin.js whose readers handle [`TILE_FORMAT_MAJOR`]: `iTwinJS=<version>` keeps
/// the exports compatible with that version, which for the emulator is all of them from this
/// version on and none before. The portal does not say which versions read which exports;
/// this is the emulator's model of "all exports compatible with that iTwinJS version".
pub(crate) const MIN_ITWINJS: (u64, u64, u64) = (4, 0, 0);

/// The parsed query of `get-exports`.
#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    pub(crate) top: u32,
    pub(crate) skip: u64,
    /// `$orderBy`: by date, ascending or not; `None` orders by changeset index, newest first.
    pub(crate) ascending: Option<bool>,
    pub(crate) imodel_id: Option<String>,
    pub(crate) changeset_id: Option<String>,
    pub(crate) export_type: Option<String>,
    /// `tileVersion`: only exports of this major tile format version.
    pub(crate) tile_version: Option<u32>,
    /// `iTwinJS`: only exports this iTwin.js version can read.
    pub(crate) itwinjs: Option<(u64, u64, u64)>,
    /// Parameters to carry into `_links` (filters and flags), in the caller's order.
    pub(crate) carried: Vec<(String, String)>,
}

/// A bad query parameter: its name and what is wrong.
#[derive(Debug)]
pub(crate) struct BadParameter(&'static str, String);

impl BadParameter {
    fn new(target: &'static str, message: impl Into<String>) -> Self {
        Self(target, message.into())
    }

    pub(crate) fn into_response(self) -> Response {
        errors::invalid_parameter(self.0, self.1)
    }
}

pub(crate) fn parse_list_query(raw: Option<&str>) -> Result<ListQuery, BadParameter> {
    let mut query = ListQuery {
        top: DEFAULT_TOP,
        ..ListQuery::default()
    };
    let pairs = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned();
    for (name, value) in pairs {
        match name.as_str() {
            "$top" => {
                query.top = value
                    .parse::<u32>()
                    .ok()
                    .filter(|t| (1..=MAX_TOP).contains(t))
                    .ok_or_else(|| BadParameter::new("$top", "$top must be between 1 and 1000."))?;
            }
            "$skip" => {
                query.skip = value
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s <= i32::MAX as u64)
                    .ok_or_else(|| {
                        BadParameter::new("$skip", "$skip must be a non-negative integer.")
                    })?;
            }
            "$orderBy" => {
                query.ascending = match value.as_str() {
                    "date:asc" => Some(true),
                    "date:desc" => Some(false),
                    _ => {
                        return Err(BadParameter::new(
                            "$orderBy",
                            "$orderBy must be date:asc or date:desc.",
                        ));
                    }
                };
                query.carried.push((name, value));
            }
            "exportType" => {
                if !EXPORT_TYPES.contains(&value.as_str()) {
                    return Err(BadParameter::new(
                        "exportType",
                        format!("exportType must be one of {}.", EXPORT_TYPES.join(", ")),
                    ));
                }
                query.export_type = Some(value.clone());
                query.carried.push((name, value));
            }
            "cdn" => {
                if value != "0" && value != "1" {
                    return Err(BadParameter::new("cdn", "cdn must be 0 or 1."));
                }
                query.carried.push((name, value));
            }
            "iTwinJS" => {
                query.itwinjs = Some(parse_version(&value).ok_or_else(|| {
                    BadParameter::new(
                        "iTwinJS",
                        "iTwinJS must be an iTwin.js version such as 4.10.2.",
                    )
                })?);
                query.carried.push((name, value));
            }
            "tileVersion" => {
                query.tile_version = Some(value.parse::<u32>().ok().ok_or_else(|| {
                    BadParameter::new("tileVersion", "tileVersion must be a non-negative integer.")
                })?);
                query.carried.push((name, value));
            }
            "iModelId" => {
                query.imodel_id = Some(value.clone()).filter(|v| !v.is_empty());
                query.carried.push((name, value));
            }
            "changesetId" => {
                query.changeset_id = Some(value.clone()).filter(|v| !v.is_empty());
                query.carried.push((name, value));
            }
            // Like the service, unknown parameters (CesiumJS's informational `client` and
            // `clientVersion`, for one) are ignored.
            _ => {}
        }
    }
    Ok(query)
}

/// `major.minor.patch` with an optional pre-release or build suffix (`4.10.2`, `5.0.0-dev.12`);
/// a missing minor or patch counts as 0 (`4.10` is `4.10.0`).
fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let core = text.split(['-', '+']).next().unwrap_or("");
    let mut parts = core.split('.');
    let mut number = |required: bool| match parts.next() {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok(),
        None if !required => Some(0),
        _ => None,
    };
    let version = (number(true)?, number(false)?, number(false)?);
    parts.next().is_none().then_some(version)
}

/// Whether the emulator's exports suit the `tileVersion` and `iTwinJS` of `query`.
pub(crate) fn compatible(query: &ListQuery) -> bool {
    query.tile_version.is_none_or(|v| TILE_FORMAT_MAJOR <= v)
        && query.itwinjs.is_none_or(|v| v >= MIN_ITWINJS)
}

/// A page's link under `root`, the service root as the caller sees it (no trailing slash).
pub(crate) fn page_href(root: &str, query: &ListQuery, skip: u64) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    serializer.append_pair("$top", &query.top.to_string());
    serializer.append_pair("$skip", &skip.to_string());
    for (name, value) in &query.carried {
        serializer.append_pair(name, value);
    }
    // `$` is legal in a query; keep it readable as the service writes it.
    let encoded = serializer.finish().replace("%24", "$");
    format!("{root}/?{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_refuses_bad_values() {
        for raw in [
            "$top=0",
            "$top=1001",
            "$top=abc",
            "$skip=-1",
            "$orderBy=name",
            "exportType=OBJ",
            "cdn=2",
            "iTwinJS=yes",
            "iTwinJS=true",
            "iTwinJS=4..2",
            "iTwinJS=",
            "tileVersion=abc",
            "tileVersion=-1",
            "tileVersion=36.5",
        ] {
            assert!(parse_list_query(Some(raw)).is_err(), "{raw} accepted");
        }
        let ok = parse_list_query(Some("$top=5&$skip=10&$orderBy=date:asc")).unwrap();
        assert_eq!((ok.top, ok.skip, ok.ascending), (5, 10, Some(true)));
        assert_eq!(parse_list_query(None).unwrap().ascending, None);
    }

    #[test]
    fn itwinjs_is_a_version_and_tile_version_an_integer() {
        let query = parse_list_query(Some("iModelId=x&tileVersion=36&iTwinJS=4.10.2")).unwrap();
        assert_eq!(query.tile_version, Some(36));
        assert_eq!(query.itwinjs, Some((4, 10, 2)));
        assert!(compatible(&query));
        assert_eq!(parse_version("5.0.0-dev.12"), Some((5, 0, 0)));
        assert_eq!(parse_version("4.10"), Some((4, 10, 0)));
        assert_eq!(parse_version("4.10.2.1"), None);
    }

    #[test]
    fn incompatible_readers_get_no_exports() {
        for raw in [
            "tileVersion=35",
            "iTwinJS=3.7.1",
            "tileVersion=36&iTwinJS=3.99.0",
        ] {
            let query = parse_list_query(Some(raw)).unwrap();
            assert!(!compatible(&query), "{raw}");
        }
        assert!(compatible(
            &parse_list_query(Some("iTwinJS=4.0.0")).unwrap()
        ));
        // A reader of a newer major version reads the emulator's older exports too.
        assert!(compatible(
            &parse_list_query(Some("tileVersion=37")).unwrap()
        ));
    }
}
