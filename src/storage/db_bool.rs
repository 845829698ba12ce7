//! Booleans as both backends return them through the `Any` driver: BOOLEAN
//! on PostgreSQL, INTEGER 0/1 on SQLite (the `Any` driver cannot carry
//! SQLite's declared BOOLEAN type).

use sqlx::any::{AnyTypeInfo, AnyTypeInfoKind, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Any, Decode, Type};

/// Decode-only helper: `#[sqlx(try_from = "DbBool")] field: bool`.
pub struct DbBool(bool);

impl Type<Any> for DbBool {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        matches!(
            ty.kind(),
            AnyTypeInfoKind::Bool | AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt
        )
    }
}

impl<'r> Decode<'r, Any> for DbBool {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        match <bool as Decode<Any>>::decode(value.clone()) {
            Ok(b) => Ok(DbBool(b)),
            Err(_) => Ok(DbBool(<i64 as Decode<Any>>::decode(value)? != 0)),
        }
    }
}

impl From<DbBool> for bool {
    fn from(value: DbBool) -> bool {
        value.0
    }
}

/// Decode-only helper for nullable booleans (per-block overrides):
/// `#[sqlx(try_from = "DbOptBool")] field: Option<bool>`.
pub struct DbOptBool(Option<bool>);

impl Type<Any> for DbOptBool {
    fn type_info() -> AnyTypeInfo {
        <DbBool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <DbBool as Type<Any>>::compatible(ty) || ty.kind() == AnyTypeInfoKind::Null
    }
}

impl<'r> Decode<'r, Any> for DbOptBool {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbOptBool(<Option<DbBool> as Decode<Any>>::decode(value)?.map(bool::from)))
    }
}

impl From<DbOptBool> for Option<bool> {
    fn from(value: DbOptBool) -> Option<bool> {
        value.0
    }
}
