package auth

import (
	"cmp"
	"context"
	"net/url"
	"sync"

	"golang.org/x/oauth2"
)

// edgeOAuth makes the password grant now, bounded by ctx (an MFA code is
// good once, so it cannot wait), and returns a source that refreshes with
// the refresh token and, when that has expired, grants again with the
// password. tokenCtx, never cancelled, serves those later requests.
func edgeOAuth(ctx, tokenCtx context.Context, cfg Config) (oauth2.TokenSource, error) {
	conf := &oauth2.Config{
		ClientID:     edgeClientID,
		ClientSecret: edgeClientSecret,
		Endpoint: oauth2.Endpoint{
			TokenURL:  cmp.Or(cfg.TokenURL, DefaultEdgeTokenURL),
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
	first, err := withMFA(conf, cfg.MFAToken)
	if err != nil {
		return nil, err
	}
	tok, err := first.PasswordCredentialsToken(ctx, cfg.Username, cfg.Password)
	if err != nil {
		return nil, tokenError(err)
	}
	src := &edgeSource{conf: conf, ctx: tokenCtx, user: cfg.Username, password: cfg.Password,
		mfa: cfg.MFAToken != "", refresh: tok.RefreshToken}
	return oauth2.ReuseTokenSource(tok, src), nil
}

// withMFA returns conf with the MFA code as the token URL's mfa_token
// query parameter, as Edge's own tools send it.
func withMFA(conf *oauth2.Config, code string) (*oauth2.Config, error) {
	if code == "" {
		return conf, nil
	}
	u, err := url.Parse(conf.Endpoint.TokenURL)
	if err != nil {
		return nil, invalid("the Edge token URL is not a URL")
	}
	q := u.Query()
	q.Set("mfa_token", code)
	u.RawQuery = q.Encode()
	c := *conf
	c.Endpoint.TokenURL = u.String()
	return &c, nil
}

// edgeSource renews expired Edge tokens.
type edgeSource struct {
	conf           *oauth2.Config
	ctx            context.Context
	user, password string
	mfa            bool

	mu      sync.Mutex
	refresh string
}

func (s *edgeSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refresh != "" {
		tok, err := s.conf.TokenSource(s.ctx, &oauth2.Token{RefreshToken: s.refresh}).Token()
		if err == nil {
			s.refresh = tok.RefreshToken
			return tok, nil
		}
	}
	if s.mfa {
		return nil, unauthorized("the Edge OAuth session expired and needs a new MFA code: update the connection's Secret")
	}
	tok, err := s.conf.PasswordCredentialsToken(s.ctx, s.user, s.password)
	if err != nil {
		return nil, err
	}
	s.refresh = tok.RefreshToken
	return tok, nil
}
