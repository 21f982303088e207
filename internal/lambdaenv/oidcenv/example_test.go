package oidcenv_test

import (
	"fmt"
	"log"

	"github.com/serverless-signin/signin/internal/lambdaenv/oidcenv"
	"github.com/serverless-signin/signin/pkg/oauth"
)

func ExampleConfig() {
	env := map[string]string{ // os.Getenv in a real program
		"OAUTH_ISSUER":    "https://id.example",
		"OAUTH_CLIENT_ID": "my-app",
		"OAUTH_PROMPT":    "sometimes",
	}
	_, err := oidcenv.Config(func(k string) string { return env[k] })
	fmt.Println(err)

	env["OAUTH_PROMPT"] = "login"
	cfg, err := oidcenv.Config(func(k string) string { return env[k] })
	if err != nil {
		log.Fatal(err)
	}
	cfg.ClientSecret = "from Secrets Manager"
	client, err := oauth.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client.Config().Scopes, client.Config().Timeout)
	// Output:
	// oauth: invalid configuration: OAUTH_PROMPT must be one of login, consent, none, select_account
	// [openid profile email] 5s
}
