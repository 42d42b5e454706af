//! A reader of the small XML documents Azure Storage answers with (List Blobs, errors): enough
//! to read their values and compare their shapes, not a general XML parser.

/// One element: its name, attributes, child elements and text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Parses `xml` (a declaration, then one root element) or panics saying where it stopped.
pub fn parse(xml: &str) -> Element {
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut rest = xml.trim_start_matches('\u{feff}');
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        if let Some(current) = stack.last_mut() {
            current.text.push_str(&unescape(text));
        }
        let close = rest[open..]
            .find('>')
            .unwrap_or_else(|| panic!("unclosed tag in {xml}"))
            + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let done = stack.pop().expect("an open element");
            assert_eq!(done.name, name.trim(), "mismatched end tag in {xml}");
            stack.last_mut().expect("a parent").children.push(done);
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/').trim();
        let (name, mut attrs) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        let mut element = Element {
            name: name.to_owned(),
            ..Element::default()
        };
        while let Some((key, value)) = attrs.split_once('=') {
            let value = value.trim_start();
            let quote = value.chars().next().expect("a quoted attribute value");
            let end = value[1..].find(quote).expect("a closing quote") + 1;
            element
                .attributes
                .push((key.trim().to_owned(), unescape(&value[1..end])));
            attrs = &value[end + 1..];
        }
        if self_closing {
            stack.last_mut().expect("a parent").children.push(element);
        } else {
            stack.push(element);
        }
    }
    let mut document = stack.pop().expect("the document");
    assert!(stack.is_empty(), "unclosed elements in {xml}");
    assert_eq!(document.children.len(), 1, "one root element in {xml}");
    document.children.remove(0)
}

impl Element {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child called `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The children's names in order.
    pub fn child_names(&self) -> Vec<&str> {
        self.children.iter().map(|c| c.name.as_str()).collect()
    }

    /// The attributes' names, sorted.
    pub fn attribute_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.attributes.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names
    }
}
