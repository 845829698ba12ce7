//! Advisor categories as the admin defines them.

use super::validation::{FieldError, bounded_text, field_error};

pub const NAME_MAX: usize = 40;

/// A category name and the slug derived from it ("Data science" → `data-science`).
pub fn name_and_slug(value: &str) -> Result<(String, String), FieldError> {
    let name = bounded_text("name", "A category name", value, NAME_MAX)?;
    if name.is_empty() || name.contains('\n') {
        return Err(field_error("name", "required", "Give the category a name."));
    }
    let slug = slugify(&name);
    if slug.is_empty() {
        return Err(field_error("name", "invalid_name", "A category name needs at least one letter or digit."));
    }
    Ok((name, slug))
}

pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_derived_from_names() {
        assert_eq!(name_and_slug(" Data  science ").unwrap(), ("Data  science".into(), "data-science".into()));
        assert_eq!(slugify("C++ & Rust!"), "c-rust");
        assert_eq!(name_and_slug("!!!").unwrap_err().code, "invalid_name");
        assert_eq!(name_and_slug("").unwrap_err().code, "required");
    }
}
