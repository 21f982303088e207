// Package storecalls declares which store.Store methods each function of
// template.yaml calls, and which the pkg/auth API behind each of the
// template's managed policies calls. It is the code's half of the IAM
// check: the tests of internal/routes and pkg/auth run every route and API
// call through a Recorder and hold these tables to what was called, and
// e2e turns the tables into IAM grants with store.Permissions() and holds
// template.yaml's policies to them. Only tests import it.
package storecalls

// me is what reading a session costs: one GetItem, and the idle touch.
var me = []string{"GetSession", "TouchSession"}

// Functions lists, by logical id in template.yaml, the store methods each
// function's code calls. A function that uses only the template's managed
// policies is in Attached instead.
var Functions = map[string][]string{
	// The state record of a new sign-in.
	"LoginFunction": {"PutState"},
	// Consume the state; write the session and its tokens.
	// Consume the state, write the session and its tokens, and end the
	// browser's older session when it signs in again.
	"CallbackFunction": {"ConsumeState", "CreateSession", "DeleteSession"},
	"MeFunction":       me,
	// End the session (its delete returns the record, which names the
	// user); sign out everywhere finds the user's other sessions on the
	// index and ends each.
	"LogoutFunction": {"DeleteSession", "SessionKeys"},
	// The SessionAuthorizer decides as /auth/me does.
	"AuthorizerFunction": me,
}

// Policies lists, by logical id in template.yaml, the store methods of the
// pkg/auth calls each managed policy is for.
var Policies = map[string][]string{
	// Sessions.FromRequest, FromCookie.
	"SessionReaderPolicy": me,
	// Sessions.AccessToken: read the tokens, take the refresh lease, save
	// the refreshed tokens; a dead grant ends the session.
	"TokenRefresherPolicy": {"GetTokens", "AcquireRefreshLease", "SaveRefreshed", "DeleteSession"},
	// Sessions.SignOutEverywhere.
	"SignOutEverywherePolicy": {"SessionKeys", "DeleteSession"},
}

// Attached lists the functions of template.yaml that get their permissions
// from the template's managed policies alone, as an app's function does.
var Attached = map[string][]string{
	"ExampleProfileFunction": {"SessionReaderPolicy", "TokenRefresherPolicy"},
}
