//! Spin's HTTP route syntax, and picking the route for a request path.
//!
//! A route is exact (`/outbound`), has named segments (`/participant/:id`),
//! or ends in a wildcard (`/static/...`). As in Spin, the most specific match
//! wins: an exact route before a parameterised one, and a longer route before
//! a shorter wildcard.

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// As written in the manifest.
    text: String,
    segments: Vec<Segment>,
    /// Ends in `/...`: any further segments match.
    wildcard: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

impl Route {
    pub fn parse(text: &str) -> Result<Route> {
        let Some(rest) = text.strip_prefix('/') else {
            bail!("route {text:?} must start with '/'");
        };
        let (rest, wildcard) = match rest.strip_suffix("...") {
            Some(prefix) if prefix.is_empty() || prefix.ends_with('/') => (prefix.trim_end_matches('/'), true),
            _ => (rest, false),
        };
        let segments = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| match s.strip_prefix(':') {
                Some(_) => Segment::Param,
                None => Segment::Literal(s.to_string()),
            })
            .collect();
        Ok(Route { text: text.to_string(), segments, wildcard })
    }

    /// How well this route matches a path split into `parts` (see
    /// [`Router::find_route`]), higher is more specific; `None` when it
    /// does not match.
    fn score(&self, parts: &[&str]) -> Option<(bool, usize, usize)> {
        let fits = if self.wildcard { parts.len() >= self.segments.len() } else { parts.len() == self.segments.len() };
        if !fits {
            return None;
        }
        let mut literals = 0;
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(literal) if literal == part => literals += 1,
                Segment::Param if !part.is_empty() => {}
                _ => return None,
            }
        }
        Some((!self.wildcard, self.segments.len(), literals))
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The routes of an app, each naming what serves it.
#[derive(Debug, Clone)]
pub struct Router<T> {
    routes: Vec<(Route, T)>,
}

impl<T> Router<T> {
    pub fn new(routes: Vec<(Route, T)>) -> Self {
        Router { routes }
    }

    /// The most specific route matching `path`.
    pub fn find(&self, path: &str) -> Option<&T> {
        self.find_route(path).map(|(_, target)| target)
    }

    /// [`find`](Self::find), with the route that matched.
    pub fn find_route(&self, path: &str) -> Option<(&Route, &T)> {
        // Split once, not once a route: this runs on every request.
        let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let parts = if parts == [""] { &[][..] } else { &parts[..] };
        self.routes
            .iter()
            .filter_map(|(route, target)| route.score(parts).map(|score| (score, (route, target))))
            .max_by_key(|(score, _)| *score)
            .map(|(_, found)| found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router<&'static str> {
        let routes = [
            ("/participant", "participant"),
            ("/participant/:id", "participant"),
            ("/participant/:id/friends", "friends"),
            ("/outbound", "search"),
            ("/static/...", "files"),
            ("/static/special", "special"),
        ];
        Router::new(routes.iter().map(|(r, t)| (Route::parse(r).unwrap(), *t)).collect())
    }

    #[test]
    fn matches_exact_param_and_wildcard_routes() {
        let router = router();
        assert_eq!(router.find("/participant"), Some(&"participant"));
        assert_eq!(router.find("/participant/12"), Some(&"participant"));
        assert_eq!(router.find("/participant/12/friends"), Some(&"friends"));
        assert_eq!(router.find("/outbound"), Some(&"search"));
        assert_eq!(router.find("/static"), Some(&"files"));
        assert_eq!(router.find("/static/a/b.css"), Some(&"files"));
        assert_eq!(router.find("/static/special"), Some(&"special"));
    }

    #[test]
    fn unknown_paths_match_nothing() {
        let router = router();
        for path in
            ["/", "/participants", "/participant/", "/participant/1/2", "/participant/1/friends/x", "", "/outbound/1"]
        {
            assert_eq!(router.find(path), None, "{path}");
        }
    }

    #[test]
    fn refuses_relative_routes() {
        assert!(Route::parse("participant").is_err());
    }
}
