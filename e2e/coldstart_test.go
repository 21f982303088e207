//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/serverless-signin/signin/internal/dynamotest"
)

// BenchmarkColdStart starts each built function in a fresh emulator per iteration and invokes it
// once with its unmodified sample event from events/ (login writes a state; callback, me and
// logout look up records that do not exist), then once more warm. Metrics:
//
//	init-ms         the emulator's INIT REPORT: exec of the bootstrap to the runtime's first
//	                request for an event (Go runtime start, the lambdaenv builder, lambda.Start)
//	first-invoke-ms the first invoke as the caller sees it: INIT plus the first request
//	warm-invoke-ms  the second invoke of the same event
//	binary-bytes    the bootstrap's size (host architecture; BENCHMARKS.md lists arm64 too)
//
// AWS_ENDPOINT_URL_DYNAMODB makes FromEnv create the table (a local convenience that is not
// part of a cold start in AWS), so the functions reach DynamoDB Local through an AWS config
// file's services section instead, which the SDK honours the same way.
func BenchmarkColdStart(b *testing.B) {
	ddb, table := dynamotest.NewTable(b)
	rie, bootstraps := buildLambdas(b)
	config := filepath.Join(b.TempDir(), "aws-config")
	err := os.WriteFile(config, fmt.Appendf(nil, "[default]\nservices = local\n\n[services local]\ndynamodb =\n  endpoint_url = %s\n",
		aws.ToString(ddb.Options().BaseEndpoint)), 0o600)
	if err != nil {
		b.Fatal(err)
	}
	// No provider runs: login has its authorize URL configured and the others answer these events
	// without calling one.
	const issuer = "https://auth.example.test"
	wantStatus := map[string]int{"LoginFunction": 302, "CallbackFunction": 400, "MeFunction": 401, "LogoutFunction": 302}

	for _, fn := range samFunctions {
		b.Run(fn.logicalID, func(b *testing.B) {
			ev := loadEvent(b, fn.event())
			env := lambdaEnv(fn, table, issuer, "client", "secret", map[string]string{"AWS_CONFIG_FILE": config})
			var initSum, firstSum, warmSum time.Duration
			n := 0
			for b.Loop() {
				e := startEmulator(b, fn.logicalID, rie, bootstraps[fn.logicalID], env)
				resp, first := e.invoke(b, fmt.Sprintf("cold-%d", n), ev)
				if resp.StatusCode != wantStatus[fn.logicalID] {
					b.Fatalf("%s: status %d %s; want %d; output:\n%s", fn.logicalID, resp.StatusCode, resp.Body, wantStatus[fn.logicalID], e.out)
				}
				_, warm := e.invoke(b, fmt.Sprintf("warm-%d", n), ev)
				d, ok := e.initDuration()
				if !ok {
					b.Fatalf("%s: no INIT REPORT line; output:\n%s", fn.logicalID, e.out)
				}
				e.stop()
				initSum, firstSum, warmSum = initSum+d, firstSum+first, warmSum+warm
				n++
			}
			ms := func(sum time.Duration) float64 { return float64(sum) / float64(n) / float64(time.Millisecond) }
			b.ReportMetric(ms(initSum), "init-ms")
			b.ReportMetric(ms(firstSum), "first-invoke-ms")
			b.ReportMetric(ms(warmSum), "warm-invoke-ms")
			b.ReportMetric(float64(fileSize(bootstraps[fn.logicalID])), "binary-bytes")
		})
	}
}
