//! States and kinds stored as words (`crate::domain`'s `words!` enums),
//! decoded here so that no layer above storage compares them as text.

use sqlx::any::{AnyTypeInfo, AnyTypeInfoKind, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Any, Decode, Type};

use super::{Result, StorageError};

/// Decode-only helper for a nullable word:
/// `#[sqlx(try_from = "DbOptWord")] field: Option<Channel>`.
pub struct DbOptWord(Option<String>);

impl Type<Any> for DbOptWord {
    fn type_info() -> AnyTypeInfo {
        <String as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <String as Type<Any>>::compatible(ty) || ty.kind() == AnyTypeInfoKind::Null
    }
}

impl<'r> Decode<'r, Any> for DbOptWord {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbOptWord(<Option<String> as Decode<Any>>::decode(value)?))
    }
}

impl<T: TryFrom<String, Error = String>> TryFrom<DbOptWord> for Option<T> {
    type Error = String;

    fn try_from(value: DbOptWord) -> Result<Option<T>, String> {
        value.0.map(T::try_from).transpose()
    }
}

/// A word read on its own (a scalar or a tuple column), decoded: unknown
/// text is a decoding error, as in a row with `try_from`.
pub(super) fn word<T: TryFrom<String, Error = String>>(text: String) -> Result<T> {
    T::try_from(text).map_err(|e| StorageError::Database(sqlx::Error::Decode(e.into())))
}
