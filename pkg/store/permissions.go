package store

// Access is what one Store method of DynamoDB does in the table, for a
// least-privilege IAM policy: the IAM actions it needs on the items whose
// partition key starts with one of Prefixes (the dynamodb:LeadingKeys
// condition), or on UserIndex when Index is set.
type Access struct {
	// Actions are IAM action names ("dynamodb:GetItem"). A transaction
	// needs the action of each write in it, not an action of its own.
	Actions []string
	// Prefixes are the partition key prefixes of the items it touches:
	// StatePrefix, SessionPrefix, TokensPrefix.
	Prefixes []string
	// Index: it queries UserIndex, whose key is issuer#subject, so no
	// prefix condition applies there.
	Index bool
}

// Permissions returns, by Store method name, what each method of
// *DynamoDB does in DynamoDB. It is the one description an IAM policy
// test should read; this package's tests hold it to the calls the methods
// actually make. EnsureTable (tests and local use only) is not listed.
func Permissions() map[string]Access {
	return map[string]Access{
		"PutState":            {Actions: []string{"dynamodb:PutItem"}, Prefixes: []string{StatePrefix}},
		"ConsumeState":        {Actions: []string{"dynamodb:UpdateItem"}, Prefixes: []string{StatePrefix}},
		"CreateSession":       {Actions: []string{"dynamodb:PutItem"}, Prefixes: []string{SessionPrefix, TokensPrefix}},
		"GetSession":          {Actions: []string{"dynamodb:GetItem"}, Prefixes: []string{SessionPrefix}},
		"PeekSession":         {Actions: []string{"dynamodb:GetItem"}, Prefixes: []string{SessionPrefix}},
		"TouchSession":        {Actions: []string{"dynamodb:UpdateItem"}, Prefixes: []string{SessionPrefix}},
		"DeleteSession":       {Actions: []string{"dynamodb:DeleteItem"}, Prefixes: []string{SessionPrefix, TokensPrefix}},
		"SessionKeys":         {Actions: []string{"dynamodb:Query"}, Index: true},
		"GetTokens":           {Actions: []string{"dynamodb:GetItem"}, Prefixes: []string{TokensPrefix}},
		"AcquireRefreshLease": {Actions: []string{"dynamodb:UpdateItem"}, Prefixes: []string{TokensPrefix}},
		"SaveRefreshed":       {Actions: []string{"dynamodb:PutItem"}, Prefixes: []string{TokensPrefix}},
	}
}
