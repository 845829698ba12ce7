//! Structured field values (RFC 8941), as far as HTTP message signatures
//! need them: dictionaries whose members are items or inner lists, with
//! parameters; bare items of every type. Parsing follows the RFC's
//! algorithms (section 4.2) strictly, and serialising follows section 4.1,
//! so a `Signature-Input` member serialises back to what its signature
//! covers (`@signature-params`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A bare item.
#[derive(Debug, Clone, PartialEq)]
pub enum BareItem {
    Integer(i64),
    /// Kept as written (at most 12 integer and 3 fraction digits).
    Decimal(String),
    String(String),
    Token(String),
    Bytes(Vec<u8>),
    Boolean(bool),
}

/// Parameters, in order; a later duplicate replaces an earlier one.
pub type Parameters = Vec<(String, BareItem)>;

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub bare: BareItem,
    pub params: Parameters,
}

/// A dictionary member.
#[derive(Debug, Clone, PartialEq)]
pub enum Member {
    Item(Item),
    InnerList(Vec<Item>, Parameters),
}

/// A dictionary, in order (a later duplicate key replaces an earlier one,
/// keeping the first one's place).
pub type Dictionary = Vec<(String, Member)>;

/// A parameter's value by name.
pub fn param<'a>(params: &'a Parameters, name: &str) -> Option<&'a BareItem> {
    params.iter().find(|(key, _)| key == name).map(|(_, value)| value)
}

/// Parses a dictionary field value (the field's lines joined with `, `).
pub fn parse_dictionary(input: &str) -> Result<Dictionary, String> {
    let mut parser = Parser { input: input.as_bytes(), at: 0 };
    parser.skip_sp();
    let mut dictionary: Dictionary = Vec::new();
    while !parser.done() {
        let key = parser.key()?;
        let member = if parser.peek() == Some(b'=') {
            parser.at += 1;
            parser.member()?
        } else {
            Member::Item(Item { bare: BareItem::Boolean(true), params: parser.parameters()? })
        };
        match dictionary.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = member,
            None => dictionary.push((key, member)),
        }
        parser.skip_ows();
        if parser.done() {
            break;
        }
        parser.expect(b',')?;
        parser.skip_ows();
        if parser.done() {
            return Err("a trailing comma".into());
        }
    }
    Ok(dictionary)
}

struct Parser<'a> {
    input: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.at >= self.input.len()
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at {}", c as char, self.at))
        }
    }

    fn member(&mut self) -> Result<Member, String> {
        if self.peek() == Some(b'(') { self.inner_list() } else { Ok(Member::Item(self.item()?)) }
    }

    fn inner_list(&mut self) -> Result<Member, String> {
        self.expect(b'(')?;
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            match self.peek() {
                Some(b')') => {
                    self.at += 1;
                    return Ok(Member::InnerList(items, self.parameters()?));
                }
                None => return Err("an inner list without its `)`".into()),
                Some(_) => {
                    items.push(self.item()?);
                    if !matches!(self.peek(), Some(b' ' | b')')) {
                        return Err(format!("expected a space or `)` at {}", self.at));
                    }
                }
            }
        }
    }

    fn item(&mut self) -> Result<Item, String> {
        let bare = self.bare_item()?;
        Ok(Item { bare, params: self.parameters()? })
    }

    fn parameters(&mut self) -> Result<Parameters, String> {
        let mut params: Parameters = Vec::new();
        while self.peek() == Some(b';') {
            self.at += 1;
            self.skip_sp();
            let key = self.key()?;
            let value = if self.peek() == Some(b'=') {
                self.at += 1;
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            match params.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => params.push((key, value)),
            }
        }
        Ok(params)
    }

    fn key(&mut self) -> Result<String, String> {
        let start = self.at;
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => self.at += 1,
            _ => return Err(format!("expected a key at {start}")),
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-.*".contains(&c) {
                self.at += 1;
            } else {
                break;
            }
        }
        Ok(String::from_utf8_lossy(&self.input[start..self.at]).into_owned())
    }

    fn bare_item(&mut self) -> Result<BareItem, String> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string(),
            Some(b':') => self.bytes(),
            Some(b'?') => self.boolean(),
            Some(c) if c.is_ascii_alphabetic() || c == b'*' => Ok(self.token()),
            _ => Err(format!("expected an item at {}", self.at)),
        }
    }

    fn number(&mut self) -> Result<BareItem, String> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let digits_start = self.at;
        let mut dot: Option<usize> = None;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' => self.at += 1,
                b'.' if dot.is_none() => {
                    if self.at - digits_start > 12 {
                        return Err("a decimal with too many integer digits".into());
                    }
                    dot = Some(self.at);
                    self.at += 1;
                }
                _ => break,
            }
            let length = self.at - digits_start;
            if (dot.is_none() && length > 15) || (dot.is_some() && length > 16) {
                return Err("a number too long".into());
            }
        }
        let text = std::str::from_utf8(&self.input[start..self.at]).map_err(|e| e.to_string())?;
        if self.at == digits_start {
            return Err("a sign without digits".into());
        }
        match dot {
            None => text.parse().map(BareItem::Integer).map_err(|e| e.to_string()),
            Some(dot) => {
                let fraction = self.at - dot - 1;
                if fraction == 0 || fraction > 3 {
                    return Err("a decimal needs one to three fraction digits".into());
                }
                Ok(BareItem::Decimal(text.to_string()))
            }
        }
    }

    fn string(&mut self) -> Result<BareItem, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err("a string without its closing quote".into()),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(BareItem::String(out));
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c as char);
                            self.at += 1;
                        }
                        _ => return Err("a bad escape in a string".into()),
                    }
                }
                Some(c @ 0x20..=0x7e) => {
                    out.push(c as char);
                    self.at += 1;
                }
                Some(_) => return Err("a control or non-ASCII character in a string".into()),
            }
        }
    }

    fn token(&mut self) -> BareItem {
        let start = self.at;
        self.at += 1;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c) {
                self.at += 1;
            } else {
                break;
            }
        }
        BareItem::Token(String::from_utf8_lossy(&self.input[start..self.at]).into_owned())
    }

    fn bytes(&mut self) -> Result<BareItem, String> {
        self.expect(b':')?;
        let start = self.at;
        while let Some(c) = self.peek() {
            if c == b':' {
                break;
            }
            if !(c.is_ascii_alphanumeric() || b"+/=".contains(&c)) {
                return Err("a byte sequence with a character outside base64".into());
            }
            self.at += 1;
        }
        let encoded = &self.input[start..self.at];
        self.expect(b':')?;
        STANDARD.decode(encoded).map(BareItem::Bytes).map_err(|_| "a byte sequence that is not base64".into())
    }

    fn boolean(&mut self) -> Result<BareItem, String> {
        self.expect(b'?')?;
        let value = match self.peek() {
            Some(b'1') => true,
            Some(b'0') => false,
            _ => return Err("a boolean other than ?0 or ?1".into()),
        };
        self.at += 1;
        Ok(BareItem::Boolean(value))
    }
}

/// RFC 8941 section 4.1 serialisation of a bare item.
pub fn serialize_bare(item: &BareItem, out: &mut String) {
    match item {
        BareItem::Integer(n) => out.push_str(&n.to_string()),
        BareItem::Decimal(text) => out.push_str(text),
        BareItem::String(s) => {
            out.push('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        BareItem::Token(t) => out.push_str(t),
        BareItem::Bytes(b) => {
            out.push(':');
            out.push_str(&STANDARD.encode(b));
            out.push(':');
        }
        BareItem::Boolean(true) => out.push_str("?1"),
        BareItem::Boolean(false) => out.push_str("?0"),
    }
}

/// Parameters as `;key=value` (a true boolean as `;key`).
pub fn serialize_params(params: &Parameters, out: &mut String) {
    for (key, value) in params {
        out.push(';');
        out.push_str(key);
        if *value != BareItem::Boolean(true) {
            out.push('=');
            serialize_bare(value, out);
        }
    }
}

/// An inner list with its parameters: `("a" "b");x=1`.
pub fn serialize_inner_list(items: &[Item], params: &Parameters) -> String {
    let mut out = String::from("(");
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(' ');
        }
        serialize_bare(&item.bare, &mut out);
        serialize_params(&item.params, &mut out);
    }
    out.push(')');
    serialize_params(params, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_of_inner_lists_and_byte_sequences_are_read() {
        let input = r#"sig1=("@method" "@target-uri" "content-digest");created=1618884473;keyid="test-key-rsa-pss";alg=rsa-pss-sha512, sig2=();created=1"#;
        let dictionary = parse_dictionary(input).unwrap();
        assert_eq!(dictionary.len(), 2);
        let Member::InnerList(items, params) = &dictionary[0].1 else { panic!("not an inner list") };
        assert_eq!(items.len(), 3);
        assert_eq!(items[1].bare, BareItem::String("@target-uri".into()));
        assert_eq!(param(params, "created"), Some(&BareItem::Integer(1618884473)));
        assert_eq!(param(params, "alg"), Some(&BareItem::Token("rsa-pss-sha512".into())));
        // Serialised back as written (this is what `@signature-params` covers).
        assert_eq!(serialize_inner_list(items, params), input.split(", ").next().unwrap().trim_start_matches("sig1="));

        let digest = parse_dictionary("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, unixsum=30637").unwrap();
        assert!(matches!(&digest[0].1, Member::Item(Item { bare: BareItem::Bytes(b), .. }) if b.len() == 32));
        assert_eq!(digest[1].1, Member::Item(Item { bare: BareItem::Integer(30637), params: vec![] }));
        let flags = parse_dictionary(r#"a, b=?0;x="q\"\\", c=1.5"#).unwrap();
        assert_eq!(flags[0].1, Member::Item(Item { bare: BareItem::Boolean(true), params: vec![] }));
        let mut out = String::new();
        let Member::Item(item) = &flags[1].1 else { panic!() };
        serialize_bare(&item.bare, &mut out);
        serialize_params(&item.params, &mut out);
        assert_eq!(out, r#"?0;x="q\"\\""#);
        assert_eq!(flags[2].1, Member::Item(Item { bare: BareItem::Decimal("1.5".into()), params: vec![] }));
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "sig1=(\"@method\"",
            "sig1=\"unterminated",
            "Sig1=()",
            "sig1=(), ",
            "sig1=:not base64!:",
            "sig1=?2",
            "sig1=1234567890123456",
            "sig1=1.2345",
            "sig1=(\"a\"\"b\")",
            "sig1=\"caf\u{e9}\"",
            "sig1=() sig2=()",
        ] {
            assert!(parse_dictionary(bad).is_err(), "{bad}");
        }
    }

    /// Property tests (fuzzing on stable, docs/fuzzing.md): any text is
    /// parsed or refused without a panic, and a dictionary serialised by
    /// section 4.1 parses back to itself. `PROPTEST_CASES` sets the number
    /// of cases; seeds of failures are kept in `proptest-regressions/`.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A dictionary serialised (RFC 8941 section 4.1.2).
        fn serialize_dictionary(dictionary: &Dictionary) -> String {
            let members: Vec<String> = dictionary
                .iter()
                .map(|(key, member)| match member {
                    Member::Item(Item { bare: BareItem::Boolean(true), params }) => {
                        let mut out = key.clone();
                        serialize_params(params, &mut out);
                        out
                    }
                    Member::Item(item) => {
                        let mut out = format!("{key}=");
                        serialize_bare(&item.bare, &mut out);
                        serialize_params(&item.params, &mut out);
                        out
                    }
                    Member::InnerList(items, params) => format!("{key}={}", serialize_inner_list(items, params)),
                })
                .collect();
            members.join(", ")
        }

        fn key() -> impl Strategy<Value = String> {
            "[a-z*][a-z0-9_.*-]{0,6}"
        }

        fn bare() -> impl Strategy<Value = BareItem> {
            prop_oneof![
                (-999_999_999_999_999i64..=999_999_999_999_999).prop_map(BareItem::Integer),
                (-999_999_999_999i64..=999_999_999_999, 0u32..1000, 1usize..=3).prop_map(|(i, f, digits)| {
                    let fraction = format!("{f:03}");
                    BareItem::Decimal(format!("{i}.{}", &fraction[..digits]))
                }),
                "[ -~]{0,20}".prop_map(BareItem::String),
                "[a-zA-Z*][a-zA-Z0-9!#$%&'*+.^_`|~:/-]{0,10}".prop_map(BareItem::Token),
                prop::collection::vec(any::<u8>(), 0..24).prop_map(BareItem::Bytes),
                any::<bool>().prop_map(BareItem::Boolean),
            ]
        }

        fn params() -> impl Strategy<Value = Parameters> {
            prop::collection::vec((key(), bare()), 0..3).prop_map(|mut list| {
                // A later duplicate replaces an earlier one: keep keys unique.
                let mut seen = Vec::new();
                list.retain(|(k, _)| {
                    !seen.contains(k) && {
                        seen.push(k.clone());
                        true
                    }
                });
                list
            })
        }

        fn item() -> impl Strategy<Value = Item> {
            (bare(), params()).prop_map(|(bare, params)| Item { bare, params })
        }

        fn dictionary() -> impl Strategy<Value = Dictionary> {
            let member = prop_oneof![
                item().prop_map(Member::Item),
                (prop::collection::vec(item(), 0..4), params()).prop_map(|(items, p)| Member::InnerList(items, p)),
            ];
            prop::collection::vec((key(), member), 0..5).prop_map(|mut list| {
                let mut seen = Vec::new();
                list.retain(|(k, _)| {
                    !seen.contains(k) && {
                        seen.push(k.clone());
                        true
                    }
                });
                list
            })
        }

        proptest! {
            #[test]
            fn dictionaries_round_trip(dictionary in dictionary()) {
                let text = serialize_dictionary(&dictionary);
                prop_assert_eq!(parse_dictionary(&text), Ok(dictionary), "{}", text);
            }

            #[test]
            fn any_text_is_parsed_or_refused(text in "[ -~\t\u{80}-\u{10ffff}]{0,60}") {
                if let Ok(dictionary) = parse_dictionary(&text) {
                    // What parses serialises to a canonical form that parses
                    // to the same.
                    let canonical = serialize_dictionary(&dictionary);
                    prop_assert_eq!(parse_dictionary(&canonical), Ok(dictionary), "{}", canonical);
                }
            }

            #[test]
            fn near_misses_are_parsed_or_refused(
                pieces in prop::collection::vec(prop::sample::select(vec![
                    "sig1", "=", "(", ")", "\"@method\"", " ", ";", "created", "1", "-", ".", "5", ":", "YQ==",
                    "?", "0", ",", "\\", "\"", "*", "keyid", "\t", "a",
                ]), 0..30)
            ) {
                let text = pieces.concat();
                if let Ok(dictionary) = parse_dictionary(&text) {
                    let canonical = serialize_dictionary(&dictionary);
                    prop_assert_eq!(parse_dictionary(&canonical), Ok(dictionary), "{}", canonical);
                }
            }
        }
    }
}
