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
