package secretenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The client secret's sources, in order (README.md documents each).
const (
	EnvClientSecret          = "OAUTH_CLIENT_SECRET"
	EnvClientSecretARN       = "OAUTH_CLIENT_SECRET_ARN"       // Secrets Manager: plain string or JSON {"client_secret": ...}
	EnvClientSecretParameter = "OAUTH_CLIENT_SECRET_PARAMETER" // SSM SecureString name
	envSecretsEndpoint       = "AWS_ENDPOINT_URL_SECRETS_MANAGER"
	envSSMEndpoint           = "AWS_ENDPOINT_URL_SSM"
)

// secretTimeout bounds one cold-start secret read.
const secretTimeout = 5 * time.Second

// clientSecret resolves the OAuth client secret: plain variable (local use),
// else Secrets Manager, else SSM Parameter Store (a SecureString, read with
// decryption). The reads are single AWS JSON calls (awsjson.go).
func clientSecret(ctx context.Context, awsCfg aws.Config, getenv func(string) string) (string, error) {
	if v := getenv(EnvClientSecret); v != "" {
		return v, nil
	}
	ctx, cancel := context.WithTimeout(ctx, secretTimeout)
	defer cancel()
	if id := getenv(EnvClientSecretARN); id != "" {
		s, err := secretString(ctx, awsCfg, getenv, id)
		if err != nil {
			return "", fmt.Errorf("read client secret %s from Secrets Manager: %w", EnvClientSecretARN, err)
		}
		secret, err := parseSecretString(s)
		if err != nil {
			return "", fmt.Errorf("client secret %s: %w", EnvClientSecretARN, err)
		}
		return secret, nil
	}
	name := getenv(EnvClientSecretParameter)
	var out struct {
		Parameter *struct{ Value string }
	}
	in := struct {
		Name           string
		WithDecryption bool
	}{name, true}
	if err := callAWSJSON(ctx, awsCfg, getenv, ssmService, "GetParameter", in, &out); err != nil {
		return "", fmt.Errorf("read client secret %s from SSM: %w", EnvClientSecretParameter, err)
	}
	if out.Parameter == nil || strings.TrimSpace(out.Parameter.Value) == "" {
		return "", fmt.Errorf("client secret %s: empty parameter", EnvClientSecretParameter)
	}
	return strings.TrimSpace(out.Parameter.Value), nil
}

// secretString reads the string value of a Secrets Manager secret ("" for
// a binary one).
func secretString(ctx context.Context, awsCfg aws.Config, getenv func(string) string, id string) (string, error) {
	var out struct{ SecretString string }
	in := struct{ SecretId string }{id}
	if err := callAWSJSON(ctx, awsCfg, getenv, secretsManager, "GetSecretValue", in, &out); err != nil {
		return "", err
	}
	return out.SecretString, nil
}

// parseSecretString accepts the secret itself or a JSON object with a
// "client_secret" key (the shape the Secrets Manager console writes).
func parseSecretString(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		var obj map[string]any
		if json.Unmarshal([]byte(s), &obj) == nil {
			v, _ := obj["client_secret"].(string)
			if v == "" {
				return "", errors.New("JSON secret has no \"client_secret\" string")
			}
			return v, nil
		}
	}
	if s == "" {
		return "", errors.New("empty secret string (binary secrets are not supported)")
	}
	return s, nil
}
