//! Extractors whose rejections are the API's JSON errors (`{"error": .., "field": ..}`),
//! not axum's plain-text ones: a malformed id or query gets the same kind of answer as every
//! other bad request.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// A path parameter (`/api/runs/{id}`), 400 with a JSON error when it does not parse.
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub T);

/// A query string, 400 with a JSON error when it does not parse.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state).await.map(|Path(v)| ApiPath(v)).map_err(
            |e: PathRejection| {
                ApiError::new(StatusCode::BAD_REQUEST, format!("bad path: {}", e.body_text()))
                    .with_field("path")
            },
        )
    }
}

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state).await.map(|Query(v)| ApiQuery(v)).map_err(
            |e: QueryRejection| {
                ApiError::new(StatusCode::BAD_REQUEST, format!("bad query: {}", e.body_text()))
                    .with_field("query")
            },
        )
    }
}
