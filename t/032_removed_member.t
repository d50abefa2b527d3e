# 032_removed_member.t
#	A node removed from the ring leaves the others' members: once they hold
#	the ring without it, nobody gossips to it, heartbeats it or connects to
#	it.  The removed node is stopped and its port taken by a listener here,
#	which must see no connection attempt for several heartbeat intervals
#	(before this, members[] only grew and every node kept heartbeating the
#	removed one every 500 ms).  The listener's own count is checked by one
#	connection of ours at the end.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time sleep);

use DynamoTest;
use DynamoCluster qw(start_cluster wait_until);

my $WATCH_S = 6;    # 12 heartbeat intervals, 6 gossip rounds

my @n = start_cluster(3, engine => 'wiredtiger', prefix => 'r',
	args => [ '--repair-interval', '0', '--partitions', '16' ]);
my ($victim, @rest) = ($n[2], @n[ 0, 1 ]);

my ($rc, $out, $err) = $rest[0]->cli({ timeout => 120 }, 'remove', $victim->{id});
is($rc, 0, "dynamo-cli remove $victim->{id}") or diag($err);
like($out, qr/removed $victim->{id}/, "$victim->{id} left the ring");

# every node left drops it from its members once its ring no longer holds it
my $listed = sub {
	my ($node) = @_;
	my $s = $node->status;
	return !$s->{members} || grep { $_->{id} eq $victim->{id} } @{ $s->{members} };
};
ok(defined wait_until(30, sub { !grep { $listed->($_) } @rest }),
	"neither $rest[0]{id} nor $rest[1]{id} lists $victim->{id} among its members")
  or diag(map { "$_->{id}:\n" . $_->log_tail(20) } @rest);
like(DynamoTest::slurp($rest[1]{log}), qr/member $victim->{id} left the ring/,
	"$rest[1]{id} logs that $victim->{id} is no longer gossiped to");

# its port, now ours: any connection is a node still trying to reach it
my $port = $victim->port;
is($victim->stop, 0, "$victim->{id} stops cleanly");
my $listener = IO::Socket::INET->new(
	LocalAddr => '127.0.0.1',
	LocalPort => $port,
	Listen    => 16,
	ReuseAddr => 1,
	Proto     => 'tcp') or die "listen on $port: $!\n";
my $sel = IO::Select->new($listener);
my $attempts = 0;
my $end = time + $WATCH_S;
while ((my $left = $end - time) > 0)
{
	next unless $sel->can_read($left);
	my $c = $listener->accept or next;
	$attempts++;
	close $c;
}
is($attempts, 0, "no connection attempt to the removed node's port in $WATCH_S s");

# the listener counts: a connection of ours is seen
my $probe = DynamoTest::raw_connect($port) or die "connect: $!\n";
my $seen = $sel->can_read(5) && $listener->accept;
ok($seen, 'the listener sees a connection (the count above could have been non-zero)');
close $probe;

# the two left still work together
is(($rest[0]->cli('put', 'b', 'k', 'v'))[0], 0, 'a write through the two left succeeds');

done_testing();
