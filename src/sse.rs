//! The Server-Sent Events parser on its own, over any reader.
