//! The errors a value can fail with, worded exactly as pgvector words them.
//!
//! This module is pure: an [`Error`] carries a [`SqlState`] and its text, and the
//! Postgres shell (`crate::types`) turns it into an `ereport(ERROR, ...)`.

use std::fmt;

/// The SQLSTATE classes lodestone reports. The shell maps each onto Postgres's
/// `ERRCODE_*` constant of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlState {
    /// 22000 `data_exception`
    DataException,
    /// 22P02 `invalid_text_representation`
    InvalidTextRepresentation,
    /// 22003 `numeric_value_out_of_range`
    NumericValueOutOfRange,
    /// 54000 `program_limit_exceeded`
    ProgramLimitExceeded,
    /// 22023 `invalid_parameter_value`
    InvalidParameterValue,
    /// 08P01 `protocol_violation`
    ProtocolViolation,
    /// 22004 `null_value_not_allowed`
    NullValueNotAllowed,
    /// 22P03 `invalid_binary_representation`
    InvalidBinaryRepresentation,
    /// 22012 `division_by_zero`
    DivisionByZero,
}

/// An error with pgvector's message, detail and SQLSTATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub state: SqlState,
    pub message: String,
    pub detail: Option<&'static str>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(state: SqlState, message: impl Into<String>) -> Self {
        Error { state, message: message.into(), detail: None }
    }

    pub fn with_detail(mut self, detail: &'static str) -> Self {
        self.detail = Some(detail);
        self
    }

    /// `invalid input syntax for type vector: "[1,"`
    pub fn invalid_syntax(type_name: &str, literal: &str) -> Self {
        Error::new(
            SqlState::InvalidTextRepresentation,
            format!("invalid input syntax for type {type_name}: \"{literal}\""),
        )
    }

    /// `vector must have at least 1 dimension`
    pub fn too_few_dims(type_name: &str) -> Self {
        Error::new(SqlState::DataException, format!("{type_name} must have at least 1 dimension"))
    }

    /// `vector cannot have more than 16000 dimensions`
    pub fn too_many_dims(type_name: &str, max: usize) -> Self {
        Error::new(SqlState::ProgramLimitExceeded, format!("{type_name} cannot have more than {max} dimensions"))
    }

    /// `expected 3 dimensions, not 2`
    pub fn expected_dims(expected: i32, got: usize) -> Self {
        Error::new(SqlState::DataException, format!("expected {expected} dimensions, not {got}"))
    }

    /// `different vector dimensions 3 and 2`
    pub fn different_dims(type_name: &str, a: usize, b: usize) -> Self {
        Error::new(SqlState::DataException, format!("different {type_name} dimensions {a} and {b}"))
    }

    /// pgvector's error for bit strings of different lengths.
    pub fn different_bit_lengths(a: usize, b: usize) -> Self {
        Error::new(SqlState::DataException, format!("different bit lengths {a} and {b}"))
    }

    /// `NaN not allowed in vector`
    pub fn nan(type_name: &str) -> Self {
        Error::new(SqlState::DataException, format!("NaN not allowed in {type_name}"))
    }

    /// `infinite value not allowed in vector`
    pub fn infinite(type_name: &str) -> Self {
        Error::new(SqlState::DataException, format!("infinite value not allowed in {type_name}"))
    }

    /// `"1e39" is out of range for type vector`
    pub fn out_of_range(type_name: &str, token: &str) -> Self {
        Error::new(SqlState::NumericValueOutOfRange, format!("\"{token}\" is out of range for type {type_name}"))
    }

    /// What Postgres's `pq_getmsg*` say when a binary value is cut short.
    pub fn insufficient_data() -> Self {
        Error::new(SqlState::ProtocolViolation, "insufficient data left in message")
    }

    /// `float_overflow_error()` in Postgres.
    pub fn float_overflow() -> Self {
        Error::new(SqlState::NumericValueOutOfRange, "value out of range: overflow")
    }

    /// `float_underflow_error()` in Postgres.
    pub fn float_underflow() -> Self {
        Error::new(SqlState::NumericValueOutOfRange, "value out of range: underflow")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(detail) = self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
