//! URI templates of implicit tiling: `{level}`, `{x}`, `{y}` and `{z}` expanded per tile.

use std::fmt;

use super::coord::{SubdivisionScheme, TileCoord};

/// A URI template with `{level}`, `{x}`, `{y}` and, for octrees, `{z}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

#[derive(Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Level,
    X,
    Y,
    Z,
}

impl Template {
    /// Parses a template for `scheme`. Any other `{...}` placeholder, `{z}` in a quadtree, an
    /// unbalanced brace or a missing variable is an error naming it: a template this does not
    /// understand would name files that do not exist, or one file for many tiles.
    pub fn parse(text: &str, scheme: SubdivisionScheme) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut seen = [false; 4];
        let mut rest = text;
        while !rest.is_empty() {
            let Some(open) = rest.find(['{', '}']) else {
                parts.push(Part::Text(rest.to_owned()));
                break;
            };
            if rest[open..].starts_with('}') {
                return Err(format!("a `}}` without its `{{` in template `{text}`"));
            }
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find(['{', '}'])
                .filter(|&i| after[i..].starts_with('}'))
                .ok_or_else(|| format!("an unclosed `{{` in template `{text}`"))?;
            let (part, slot) = match &after[..close] {
                "level" => (Part::Level, 0),
                "x" => (Part::X, 1),
                "y" => (Part::Y, 2),
                "z" if scheme == SubdivisionScheme::Octree => (Part::Z, 3),
                "z" => return Err(format!("`{{z}}` in the quadtree template `{text}`")),
                other => {
                    return Err(format!(
                        "unknown template variable `{{{other}}}` in `{text}`"
                    ));
                }
            };
            seen[slot] = true;
            parts.push(part);
            rest = &after[close + 1..];
        }
        let required = if scheme == SubdivisionScheme::Octree {
            4
        } else {
            3
        };
        if !seen[..required].iter().all(|s| *s) {
            let names = if required == 4 {
                "{level}, {x}, {y} and {z}"
            } else {
                "{level}, {x} and {y}"
            };
            return Err(format!("template `{text}` does not use all of {names}"));
        }
        Ok(Template {
            text: text.to_owned(),
            parts,
        })
    }

    /// The URI of the tile at `coord`.
    pub fn expand(&self, coord: TileCoord) -> String {
        let mut uri = String::with_capacity(self.text.len() + 8);
        for part in &self.parts {
            match part {
                Part::Text(text) => uri.push_str(text),
                Part::Level => uri.push_str(&coord.level.to_string()),
                Part::X => uri.push_str(&coord.x.to_string()),
                Part::Y => uri.push_str(&coord.y.to_string()),
                Part::Z => uri.push_str(&coord.z.to_string()),
            }
        }
        uri
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::implicit::testing::coord;

    #[test]
    fn templates_expand_every_variable_and_refuse_what_they_do_not_know() {
        let t = Template::parse(
            "c/{level}/{z}-{x}_{y}.glb?v={level}",
            SubdivisionScheme::Octree,
        )
        .unwrap();
        assert_eq!(t.expand(coord(3, 5, 6, 7)), "c/3/7-5_6.glb?v=3");
        let q = SubdivisionScheme::Quadtree;
        for (bad, why) in [
            (
                "c/{level}/{x}/{y}/{lod}.glb",
                "unknown template variable `{lod}`",
            ),
            (
                "c/{level}/{x}/{y}/{Level}.glb",
                "unknown template variable `{Level}`",
            ),
            ("c/{level}/{x}/{y}/{z}.glb", "`{z}` in the quadtree"),
            ("c/{level}/{x}/{y.glb", "unclosed"),
            ("c/{level}/{x}/{y}}.glb", "without its `{`"),
            ("c/{level}/{x}/{{y}.glb", "unclosed"),
            ("c/{level}/{x}.glb", "does not use all"),
            ("c/{}/{level}/{x}/{y}.glb", "unknown template variable `{}`"),
        ] {
            let err = Template::parse(bad, q).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let err = Template::parse("c/{level}/{x}/{y}.glb", SubdivisionScheme::Octree).unwrap_err();
        assert!(err.contains("{z}"), "{err}");
        // Errors and logs show a template as written.
        let t = Template::parse("c/{level}/{x}/{y}.glb", q).unwrap();
        assert_eq!(format!("{t:?}"), r#"Template("c/{level}/{x}/{y}.glb")"#);
    }
}
