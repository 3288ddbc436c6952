package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// cmdTopic creates topics before a gateway produces to them: kgo asks the
// broker to create a missing topic only with kgo.AllowAutoTopicCreation,
// so without one a producer waits (and spills) until someone creates it,
// as an operator would in production.
func cmdTopic(args []string) error {
	fs := flag.NewFlagSet("topic", flag.ExitOnError)
	brokers := fs.String("brokers", os.Getenv("FLOWGATE_KAFKA"), "Kafka `brokers` (comma-separated)")
	parts := fs.Int("partitions", 4, "partitions of each topic")
	fs.Parse(args)
	if fs.NArg() == 0 {
		return errors.New("name the topics to create")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	for _, name := range fs.Args() {
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic = name
		t.NumPartitions = int32(*parts)
		t.ReplicationFactor = 1
		req.Topics = append(req.Topics, t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create %s: %w", t.Topic, err)
		}
	}
	return nil
}
