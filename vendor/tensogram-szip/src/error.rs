// (C) Copyright 2026- ECMWF and individual contributors.
//
// This software is licensed under the terms of the Apache Licence Version 2.0
// which can be obtained at http://www.apache.org/licenses/LICENSE-2.0.
// In applying this licence, ECMWF does not waive the privileges and immunities
// granted to it by virtue of its status as an intergovernmental organisation nor
// does it submit to any jurisdiction.

//! Error types for the pure-Rust AEC/SZIP codec.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum AecError {
    #[error("configuration error: {0}")]
    Config(String),
    #[error("data error: {0}")]
    Data(String),
    #[error("buffer too small: {0}")]
    Buffer(String),
}
