package lambdaenv_test

import (
	"context"
	"testing"

	"github.com/serverless-signin/signin/internal/lambdaenv"
)

// AWSConfig reads what Lambda's environment holds, as the SDK's default chain
// does there: the region (the injected AWS_REGION first) and the execution
// role's credentials from the process environment.
func TestAWSConfig(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_DEFAULT_REGION", "eu-central-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
	t.Setenv("AWS_SESSION_TOKEN", "session-example")
	ctx := context.Background()
	for _, tt := range []struct {
		name, injected, process, want string
	}{
		{"injected", "us-east-1", "eu-west-1", "us-east-1"},
		{"process", "", "eu-west-1", "eu-west-1"},
		{"default region", "", "", "eu-central-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_REGION", tt.process)
			cfg, err := lambdaenv.AWSConfig(ctx, func(k string) string { return map[string]string{"AWS_REGION": tt.injected}[k] })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != tt.want {
				t.Errorf("Region = %q; want %q", cfg.Region, tt.want)
			}
		})
	}

	cfg, err := lambdaenv.AWSConfig(ctx, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil || c.AccessKeyID != "AKIDEXAMPLE" || c.SecretAccessKey != "secret-example" || c.SessionToken != "session-example" {
		t.Errorf("Credentials = %+v, %v; want the process environment's", c, err)
	}
	if cfg.RetryMaxAttempts != 2 {
		t.Errorf("RetryMaxAttempts = %d; want 2", cfg.RetryMaxAttempts)
	}

	// Without credentials the configuration still builds; the first AWS call fails.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	cfg, err = lambdaenv.AWSConfig(ctx, func(string) string { return "" })
	if err != nil {
		t.Fatalf("AWSConfig without credentials: %v", err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err == nil {
		t.Error("Credentials.Retrieve without credentials: no error")
	}

	// Against DynamoDB Local, which accepts any key, a placeholder stands in.
	local := func(k string) string {
		return map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}[k]
	}
	cfg, err = lambdaenv.AWSConfig(ctx, local)
	if err != nil {
		t.Fatalf("AWSConfig without credentials, DynamoDB Local: %v", err)
	}
	if c, err := cfg.Credentials.Retrieve(ctx); err != nil || c.AccessKeyID != "local" || c.SecretAccessKey != "local" {
		t.Errorf("Credentials without credentials, DynamoDB Local = %+v, %v; want the placeholder", c, err)
	}
}
