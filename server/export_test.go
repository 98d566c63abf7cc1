package server

// Routes returns the patterns s serves, for tests that hold them against
// openapi.json.
func Routes(s *Server) []string { return s.routes }

// ErrorCodes returns every code the REST API's errors carry.
func ErrorCodes() []string {
	codes := []string{codeUnavailable, codeInternal}
	for _, row := range errorTable {
		codes = append(codes, row.code)
	}
	return codes
}
