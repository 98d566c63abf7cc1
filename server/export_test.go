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

// EnvRoutes returns the patterns s serves under EnvPathPrefix for env,
// on a server with several environments.
func EnvRoutes(s *Server, env string) []string {
	for _, e := range s.envs {
		if e.Name == env && e.mux != nil {
			return e.mux.patterns
		}
	}
	return nil
}
