//! Rules about object metadata shared by every kind.

pub mod annotation_not_string;
